"""Billing configuration, read from the environment once (documented in docs/billing.md).

Kept in the app rather than config/settings.py so that the billing knobs live next to the code that reads them;
tests override them with ``monkeypatch.setattr(conf, ...)``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

from config.env import env_int, env_str


def _env_decimal(name: str, default: str) -> Decimal:
    raw = env_str(name, default)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal amount, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a non-negative amount, got {raw!r}")
    return value


PROVIDER = env_str("BILLING_PROVIDER", "testpsp")
TESTPSP_WEBHOOK_SECRET = env_str("BILLING_TESTPSP_WEBHOOK_SECRET", "whsec_testpsp_dev_only")
STRIPE_API_KEY = env_str("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
MIN_WALLET_BALANCE = _env_decimal("BILLING_MIN_WALLET_BALANCE", "1.00")
MAX_TOP_UP = _env_decimal("BILLING_MAX_TOP_UP", "500.00")
MIN_TOP_UP = _env_decimal("BILLING_MIN_TOP_UP", "5.00")
CAPTURE_RETRIES = env_int("BILLING_CAPTURE_RETRIES", 3, minimum=1, maximum=10)
