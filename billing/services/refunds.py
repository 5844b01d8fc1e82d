"""Refunds (finance) and goodwill credit (support).

A refund returns money first to the card the ride was paid with (up to what the card paid and was not yet
refunded), the rest to the rider's wallet as cash. Revenue and VAT are reversed in proportion. The Refund row is
committed before the provider is called (its id is the provider idempotency key), so a crash or a retry never
refunds twice.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum

from accounts.models import User
from billing import errors, providers
from billing.models import AccountKind, LedgerEntry, LedgerTransaction, Payment, Refund, RideBilling
from billing.providers.base import ProviderError, ProviderTimeout
from billing.services import ledger, payments, wallet
from billing.services.ledger import credit, debit
from core import audit
from core.money import quantize


def _refunded(ride_id: UUID) -> Decimal:
    total = Refund.objects.filter(ride_id=ride_id).exclude(status=Refund.Status.FAILED).aggregate(s=Sum("amount"))
    return total["s"] or Decimal(0)


def staff_money_check(*, actor: User | None, beneficiary_id: object, amount: Decimal, currency: str) -> None:
    """Staff never move money to their own account, and amounts above ``BILLING_STAFF_APPROVAL_LIMIT`` need
    ``billing.approve_large_credit`` (finance). ``actor`` None: the system (tests, a task), not a person."""
    if actor is None:
        return
    if actor.pk == beneficiary_id:
        raise errors.SelfActionForbidden()
    if amount > settings.BILLING_STAFF_APPROVAL_LIMIT and not actor.has_perm("billing.approve_large_credit"):
        raise errors.FinanceRoleRequired(limit=str(settings.BILLING_STAFF_APPROVAL_LIMIT), currency=currency)


def _reserve(ride_id: UUID, amount: Decimal, reason: str, actor: User | None) -> Refund:
    with transaction.atomic():
        billing = RideBilling.objects.select_for_update().filter(ride_id=ride_id).first()
        if billing is None or billing.status != RideBilling.Status.CHARGED:
            raise errors.RideNotCharged()
        wallet.amount_check(amount, billing.currency, minimum=Decimal("0.01"), maximum=Decimal(10_000))
        staff_money_check(actor=actor, beneficiary_id=billing.user_id, amount=amount, currency=billing.currency)
        paid = Decimal(billing.fare_total or 0) - Decimal(billing.debt)
        if amount > paid - _refunded(ride_id):
            raise errors.RefundExceedsCharge(refundable=str(paid - _refunded(ride_id)))
        card = (Payment.objects.filter(ride_id=ride_id, status=Payment.Status.CAPTURED)
                .order_by("-amount_captured").first())
        card_part = min(amount, card.amount_captured - card.amount_refunded) if card else Decimal(0)
        return Refund.objects.create(
            ride_id=ride_id, user=billing.user, currency=billing.currency, amount=amount, card_amount=card_part,
            wallet_amount=amount - card_part, payment=card if card_part > 0 else None, reason=reason[:255],
            created_by=actor,
        )


def refund_ride(*, ride_id: UUID, amount: Decimal, reason: str, actor: User | None) -> Refund:
    refund = _reserve(ride_id, amount, reason, actor)
    if refund.payment is not None:
        provider = providers.get(refund.payment.provider)
        try:
            result = payments.with_retries(lambda: provider.refund(
                intent_ref=refund.payment.provider_ref, amount=refund.card_amount,  # type: ignore[union-attr]
                currency=refund.currency, idempotency_key=f"refund:{refund.pk}",
            ))
        except (ProviderError, ProviderTimeout) as exc:
            code = exc.code if isinstance(exc, ProviderError) else "timeout"
            Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.FAILED, failure_code=code)
            raise errors.RefundFailed(provider_code=code) from None
        Refund.objects.filter(pk=refund.pk).update(provider_ref=result.ref)
    _post(refund)
    refund.refresh_from_db()
    return refund


@transaction.atomic
def _post(refund: Refund) -> LedgerTransaction:
    # The ride's row lock serialises concurrent refunds of one ride (see _wallet_lines).
    billing = RideBilling.objects.select_for_update().get(ride_id=refund.ride_id)
    fare_total, vat_total = Decimal(billing.fare_total or 0), Decimal((billing.fare or {}).get("vat_amount", "0"))
    vat = quantize(refund.amount * vat_total / fare_total, refund.currency) if fare_total else Decimal(0)
    c = refund.currency
    lines = [debit(ledger.system_account(kind=AccountKind.REFUNDS, currency=c), refund.amount - vat),
             debit(ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency=c), vat)]
    if refund.card_amount and refund.payment_id is not None:
        lines.append(credit(ledger.system_account(kind=AccountKind.PSP_CLEARING, currency=c), refund.card_amount))
        Payment.objects.filter(pk=refund.payment_id).update(amount_refunded=F("amount_refunded") + refund.card_amount)
    lines += _wallet_lines(refund)
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.SUCCEEDED)
    audit.audit_staff_action(
        actor=refund.created_by, action="billing.refund", obj=refund, reason=refund.reason,
        after={"ride": str(refund.ride_id), "rider": str(refund.user_id), "amount": str(refund.amount),
               "currency": refund.currency, "to card": str(refund.card_amount or 0),
               "to wallet": str(refund.wallet_amount or 0), "status": Refund.Status.SUCCEEDED})
    return ledger.ledger_post(
        kind="refund", idempotency_key=f"refund:{refund.pk}", user=refund.user, ride_id=refund.ride_id,
        description=f"Refund: {refund.reason}", lines=lines, metadata={"refund_id": str(refund.pk)},
        actor=refund.created_by,
    )


def _wallet_lines(refund: Refund) -> list[ledger.Line]:
    """Bonus the ride spent goes back as bonus (it must not turn into refundable cash), the rest as cash."""
    if not refund.wallet_amount:
        return []
    c = refund.currency
    bonus = ledger.rider_account(user=refund.user, kind=AccountKind.RIDER_BONUS, currency=c)
    cash = ledger.rider_account(user=refund.user, kind=AccountKind.RIDER_CASH, currency=c)
    on_ride = LedgerEntry.objects.filter(transaction__ride_id=refund.ride_id, account=bonus)
    # Debits are the bonus the ride spent, credits the bonus earlier refunds returned: the sum is what is left.
    left = on_ride.filter(transaction__kind__in=["ride_charge", "refund"]).aggregate(s=Sum("amount"))["s"]
    to_bonus = min(refund.wallet_amount, max(left or Decimal(0), Decimal(0)))
    lines = [credit(bonus, to_bonus)] if to_bonus else []
    return lines + ([credit(cash, refund.wallet_amount - to_bonus)] if refund.wallet_amount > to_bonus else [])


@transaction.atomic
def goodwill_grant(*, user: User, amount: Decimal, currency: str, reason: str, actor: User) -> LedgerTransaction:
    """Support's apology: non-refundable bonus credit, booked as a goodwill expense, recorded with its ``actor``.

    403 ``self_action_forbidden`` to the actor's own account; 403 ``finance_role_required`` above
    ``BILLING_STAFF_APPROVAL_LIMIT`` without ``billing.approve_large_credit``."""
    staff_money_check(actor=actor, beneficiary_id=user.pk, amount=amount, currency=currency)
    txn = wallet.bonus_grant(
        user=user, amount=amount, currency=currency, source=AccountKind.GOODWILL,
        idempotency_key=f"goodwill:{uuid.uuid4()}", description=f"Goodwill: {reason}"[:255], actor=actor,
    )
    audit.audit_staff_action(actor=actor, action="billing.goodwill", obj=user, reason=reason,
                             after={"bonus credit": str(amount), "currency": currency, "transaction": str(txn.pk)})
    return txn
