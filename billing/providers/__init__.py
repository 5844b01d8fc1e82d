"""Payment providers behind one interface; ``get(name)`` returns the configured adapter."""

from __future__ import annotations

from django.conf import settings

from billing import errors
from billing.providers.base import PaymentProvider


def get(name: str | None = None) -> PaymentProvider:
    name = name or settings.BILLING_PROVIDER
    # Only the configured provider's module loads (like Django's import_string of a backend setting): the test
    # PSP's models and the Stripe SDK stay out of processes that do not use them.
    if name == "testpsp":
        from billing.providers.testpsp import TestPsp

        return TestPsp()
    if name == "stripe":
        from billing.providers.stripe import StripeProvider

        return StripeProvider()
    raise errors.ProviderUnknown(provider=name)
