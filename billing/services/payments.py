"""The life of a Payment: committed before the provider is called, moved only forward by provider answers.

``payment_apply_intent`` is the one place a payment changes state, whether the answer comes from our own call,
a retry, or a webhook arriving late, twice or out of order: states only move forward (see ``_RANK``), and the
ledger effect of a capture is posted under a key derived from the payment, so it happens once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction

from accounts.models import User
from billing import errors, providers
from billing.models import AccountKind, Payment, PaymentMethod, RideBilling
from billing.providers.base import Intent, ProviderDeclined, ProviderError, ProviderTimeout
from billing.selectors import rides as ride_selectors
from billing.services import debt, ledger
from billing.services.ledger import credit, debit

logger = logging.getLogger(__name__)
S = Payment.Status
_RANK = {S.PENDING: 0, S.UNKNOWN: 0, S.REQUIRES_ACTION: 1, S.AUTHORISED: 2, S.FAILED: 3, S.CAPTURED: 4, S.VOIDED: 4}
_FROM_PROVIDER = {
    "requires_action": S.REQUIRES_ACTION,
    "requires_capture": S.AUTHORISED,
    "succeeded": S.CAPTURED,
    "canceled": S.VOIDED,
    "requires_payment_method": S.FAILED,
    "failed": S.FAILED,
}


def with_retries[T](call: Callable[[], T]) -> T:
    """Retry a provider call that timed out, with the same idempotency key (the caller's closure holds it)."""
    for attempt in range(settings.BILLING_CAPTURE_RETRIES):
        try:
            return call()
        except ProviderTimeout:
            logger.warning("payment provider timed out (attempt %s)", attempt + 1)
            if attempt == settings.BILLING_CAPTURE_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def payment_create(
    *, user: User, purpose: str, amount: Decimal, currency: str, method: PaymentMethod, ride_id: UUID | None = None
) -> Payment:
    # A savepoint: a second hold for the same ride (racing retries) fails alone, not the caller's transaction.
    with transaction.atomic():
        return Payment.objects.create(
            user=user, provider=method.provider, purpose=purpose, amount=amount, currency=currency,
            payment_method=method, ride_id=ride_id,
        )


@transaction.atomic
def payment_apply_intent(*, payment_id: UUID, intent: Intent) -> Payment:
    """Move the payment forward to what the provider reports; post the capture to the ledger once."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    status = _FROM_PROVIDER.get(intent.status, payment.status)
    if not payment.provider_ref:
        payment.provider_ref = intent.ref
    if _RANK[S(status)] > _RANK[S(payment.status)]:
        payment.status = status
        payment.next_action = intent.next_action if status == S.REQUIRES_ACTION else None
        payment.failure_code = intent.failure_code if status == S.FAILED else payment.failure_code
        if status == S.CAPTURED:
            payment.amount_captured = intent.amount_received
    payment.save()
    if payment.status == S.CAPTURED and payment.amount_captured > 0:
        _post_capture(payment)
    return payment


def _post_capture(payment: Payment) -> None:
    """Card money received: it lands in the rider's cash wallet, from where rides and debts are paid."""
    clearing = ledger.system_account(kind=AccountKind.PSP_CLEARING, currency=payment.currency)
    cash = ledger.rider_account(user=payment.user, kind=AccountKind.RIDER_CASH, currency=payment.currency)
    txn = ledger.ledger_post(
        kind="card_payment", idempotency_key=f"capture:{payment.pk}", user=payment.user, payment=payment,
        ride_id=payment.ride_id, description=f"Card payment ({payment.purpose})",
        lines=[debit(clearing, payment.amount_captured), credit(cash, payment.amount_captured)],
    )
    debt.debt_settle_after(txn, user=payment.user, currency=payment.currency)
    if payment.ride_id is not None and payment.purpose in (Payment.Purpose.RIDE_HOLD, Payment.Purpose.RIDE_EXTRA):
        # Card money that arrives after the ride's charge (a late webhook) pays the debt the charge left. The
        # billing row is refreshed after commit, in its own transaction: the charge locks that row before the
        # wallet accounts, and this transaction already holds the accounts.
        transaction.on_commit(partial(_ride_paid_refresh, payment.ride_id))


def _ride_paid_refresh(ride_id: UUID) -> None:
    with transaction.atomic():
        charged = RideBilling.objects.filter(ride_id=ride_id, status=RideBilling.Status.CHARGED)
        if not list(charged.select_for_update().values_list("pk", flat=True)):
            return  # not charged yet: the charge itself records what was paid
        paid = ride_selectors.ride_paid(ride_id=ride_id)
        charged.update(paid_wallet=paid.wallet, paid_card=paid.card, debt=paid.outstanding)


def payment_mark(*, payment_id: UUID, status: S, failure_code: str = "") -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if _RANK[status] > _RANK[S(payment.status)] or status == S.UNKNOWN and payment.status == S.PENDING:
            payment.status, payment.failure_code = status, failure_code or payment.failure_code
            payment.save(update_fields=["status", "failure_code", "updated_at"])
        return payment


def _customer_ref(payment: Payment) -> str:
    customer = payment.user.payment_customers.filter(provider=payment.provider).first()
    return customer.ref if customer else ""


def payment_authorise(*, payment: Payment, capture: bool) -> Payment:
    """Call the provider (outside any transaction) and record its answer; declines raise a domain error.

    A timeout that outlasts the retries leaves the payment ``unknown`` and raises ``PaymentProviderUnavailable``;
    the webhook for the intent (carrying our payment id in its metadata) settles it later.
    """
    assert payment.payment_method is not None
    if connection.in_atomic_block:
        # The payment row would vanish with a rollback while the provider keeps the money: callers must not wrap
        # provider calls in their own transaction (see docs/billing.md, "For the rides app").
        logger.warning("payment %s authorised inside a database transaction", payment.pk)
    provider = providers.get(payment.provider)
    try:
        intent = with_retries(lambda: provider.authorise(
            customer_ref=_customer_ref(payment), method_ref=payment.payment_method.ref,  # type: ignore[union-attr]
            amount=payment.amount, currency=payment.currency, capture=capture,
            idempotency_key=f"authorise:{payment.pk}", metadata={"payment_id": str(payment.pk)},
        ))
    except ProviderTimeout:
        payment_mark(payment_id=payment.pk, status=S.UNKNOWN)
        raise errors.PaymentProviderUnavailable() from None
    except ProviderError as exc:
        payment_mark(payment_id=payment.pk, status=S.FAILED, failure_code=exc.code)
        raise declined_error(exc) from None
    return payment_apply_intent(payment_id=payment.pk, intent=intent)


def declined_error(exc: ProviderError) -> errors.DomainError:
    if isinstance(exc, ProviderDeclined) and exc.code == "insufficient_funds":
        return errors.PaymentInsufficientFunds(decline_code=exc.code)
    return errors.PaymentDeclined(decline_code=exc.code)


def payment_capture(*, payment: Payment, amount: Decimal) -> Payment:
    """Capture (part of) an authorised hold; retried with one key, so a timeout never captures twice."""
    provider = providers.get(payment.provider)
    Payment.objects.filter(pk=payment.pk).update(capture_amount=amount)
    try:
        intent = with_retries(lambda: provider.capture(
            intent_ref=payment.provider_ref, amount=amount, currency=payment.currency,
            idempotency_key=f"capture:{payment.pk}",
        ))
    except ProviderTimeout:
        return payment_mark(payment_id=payment.pk, status=S.UNKNOWN)
    except ProviderError as exc:
        Payment.objects.filter(pk=payment.pk).update(failure_code=exc.code)
        payment.refresh_from_db()
        return payment
    return payment_apply_intent(payment_id=payment.pk, intent=intent)


def payment_void(*, payment: Payment) -> Payment:
    if payment.status not in (S.AUTHORISED, S.REQUIRES_ACTION, S.UNKNOWN, S.PENDING) or not payment.provider_ref:
        return payment
    provider = providers.get(payment.provider)
    try:
        intent = with_retries(lambda: provider.void(intent_ref=payment.provider_ref,
                                                    idempotency_key=f"void:{payment.pk}"))
    except (ProviderTimeout, ProviderError) as exc:
        logger.warning("void of payment %s failed: %r (the hold expires at the provider)", payment.pk, exc)
        return payment
    return payment_apply_intent(payment_id=payment.pk, intent=intent)
