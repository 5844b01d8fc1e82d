"""Saved payment methods: the rider's customer at the provider is created with the first one."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction

from accounts.models import User
from billing import errors, providers
from billing.models import PaymentCustomer, PaymentMethod
from billing.providers.base import ProviderError, ProviderTimeout
from billing.services.payments import with_retries


def _customer(user: User, provider: providers.PaymentProvider) -> PaymentCustomer:
    existing = PaymentCustomer.objects.filter(user=user, provider=provider.name).first()
    if existing is not None:
        return existing
    # One key per user and provider: concurrent first calls get the same customer back from the provider.
    ref = with_retries(lambda: provider.customer_create(
        email=user.email if user.has_real_email else "", user_ref=str(user.pk), idempotency_key=f"customer:{user.pk}"
    ))
    customer, _ = PaymentCustomer.objects.get_or_create(user=user, provider=provider.name, defaults={"ref": ref})
    return customer


def payment_method_add(*, user: User, token: str) -> PaymentMethod:
    """Attach a card (a provider token from the app's card form) and make it the default."""
    provider = providers.get(settings.BILLING_PROVIDER)
    try:
        customer = _customer(user, provider)
        card = with_retries(lambda: provider.payment_method_attach(
            customer_ref=customer.ref, token=token, idempotency_key=f"attach:{uuid.uuid4()}"
        ))
    except ProviderTimeout:
        raise errors.PaymentProviderUnavailable() from None
    except ProviderError as exc:
        raise errors.PaymentMethodInvalid(reason=exc.code) from None
    with transaction.atomic():
        PaymentMethod.objects.filter(user=user, is_default=True).update(is_default=False)
        return PaymentMethod.objects.create(
            user=user, provider=provider.name, ref=card.ref, brand=card.brand, last4=card.last4,
            exp_month=card.exp_month, exp_year=card.exp_year, is_default=True,
        )
