"""Provider webhooks: verified, recorded once per event id, applied so that order does not matter.

Payment events only move a payment forward (``payment_apply_intent``), so a late ``amount_capturable_updated``
after ``succeeded`` changes nothing; a duplicate delivery hits the unique (provider, event_id) and is a no-op.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction

from billing import errors, providers
from billing.models import AccountKind, LedgerTransaction, Payment, WebhookEvent
from billing.providers import wire
from billing.providers.base import Event, ProviderError
from billing.services import ledger, payments
from billing.services.ledger import credit, debit
from core.keys import bounded_key

logger = logging.getLogger(__name__)


def webhook_receive(*, provider_name: str, body: bytes, headers: dict[str, str]) -> WebhookEvent:
    if provider_name != settings.BILLING_PROVIDER:  # only the configured provider's route exists (the test PSP's key is public)
        raise errors.ProviderUnknown(provider=provider_name)
    provider = providers.get(provider_name)
    try:
        event = provider.parse_webhook(body=body, headers=headers)
    except (ProviderError, ValueError, KeyError) as exc:
        raise errors.WebhookSignatureInvalid() from exc
    try:
        with transaction.atomic():  # a concurrent duplicate waits here for the first delivery, then fails
            record = WebhookEvent.objects.create(
                provider=provider_name, event_id=_event_id(event), type=event.type, object_ref=event.object_ref,
                payload=event.data,
            )
            record.outcome = _dispatch(provider_name, event)
            record.save(update_fields=["outcome"])
            return record
    except IntegrityError:
        return WebhookEvent.objects.get(provider=provider_name, event_id=_event_id(event))


# Provider ids are opaque strings (Stripe promises at most 255 characters), short in practice: the keys built
# from them keep their readable form, and only a longer one is digested to fit its column.
def _event_id(event: Event) -> str:
    return bounded_key(event.id, max_length=WebhookEvent._meta.get_field("event_id").max_length or 0)


def _key(key: str) -> str:
    return bounded_key(key, max_length=LedgerTransaction._meta.get_field("idempotency_key").max_length or 0)


def _payment_for(provider_name: str, event: Event) -> Payment | None:
    payment = Payment.objects.filter(provider=provider_name, provider_ref=event.object_ref).first()
    if payment is None:  # a timed-out call: we never learnt the ref, but our id travels in the metadata
        raw_id = (event.data.get("metadata") or {}).get("payment_id", "")
        try:
            payment = Payment.objects.filter(pk=uuid.UUID(str(raw_id)), provider=provider_name).first()
        except ValueError:
            return None
    return payment


def _dispatch(provider_name: str, event: Event) -> str:
    if event.type.startswith("payment_intent."):
        payment = _payment_for(provider_name, event)
        if payment is None:
            return "unknown_payment"
        updated = payments.payment_apply_intent(payment_id=payment.pk, intent=wire.intent_from_dict(event.data))
        return f"payment_{updated.status}"
    if event.type == "charge.dispute.created":
        return _chargeback(provider_name, event)
    return "ignored"


def _chargeback(provider_name: str, event: Event) -> str:
    """The bank took the money back: a loss, unless it is won later (recorded by ops)."""
    payment = _payment_for(provider_name, event)
    if payment is None:
        return "unknown_payment"
    clearing = ledger.system_account(kind=AccountKind.PSP_CLEARING, currency=payment.currency)
    losses = ledger.system_account(kind=AccountKind.CHARGEBACKS, currency=payment.currency)
    ledger.ledger_post(
        kind="chargeback", idempotency_key=_key(f"chargeback:{event.data.get('id', event.id)}"), user=payment.user,
        payment=payment, ride_id=payment.ride_id, description=f"Chargeback ({event.data.get('reason', '')})",
        lines=[debit(losses, event.amount), credit(clearing, event.amount)],
    )
    logger.warning("chargeback of %s %s on payment %s", event.amount, event.currency, payment.pk)
    return "chargeback_recorded"
