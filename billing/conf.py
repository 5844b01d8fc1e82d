"""Billing configuration, read from the environment once (documented in docs/billing.md).

Kept in the app rather than config/settings.py so that the billing knobs live next to the code that reads them;
tests override them with ``monkeypatch.setattr(conf, ...)``.
"""

from __future__ import annotations

from django.conf import settings

from config.env import env_decimal, env_int, env_str

# With DEBUG off the test PSP is refused at start-up unless ALLOW_FAKE_SERVICES names it (core.checks), and its
# webhook secret has no default: the development one is public.
PROVIDER = env_str("BILLING_PROVIDER", "testpsp")
TESTPSP_WEBHOOK_SECRET = env_str(
    "BILLING_TESTPSP_WEBHOOK_SECRET", "whsec_testpsp_dev_only" if (settings.DEBUG or settings.TESTING) else ""
)
STRIPE_API_KEY = env_str("STRIPE_API_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
MIN_WALLET_BALANCE = env_decimal("BILLING_MIN_WALLET_BALANCE", "1.00")
MAX_TOP_UP = env_decimal("BILLING_MAX_TOP_UP", "500.00")
MIN_TOP_UP = env_decimal("BILLING_MIN_TOP_UP", "5.00")
# Goodwill credit and refunds above this need billing.approve_large_credit (roles finance, admin).
STAFF_APPROVAL_LIMIT = env_decimal("BILLING_STAFF_APPROVAL_LIMIT", "50.00")
CAPTURE_RETRIES = env_int("BILLING_CAPTURE_RETRIES", 3, minimum=1, maximum=10)
