"""Ride money reads: a ride's billing row, how its fare was paid, rides whose final charge is still due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db.models import Sum

from billing.models import AccountKind, LedgerEntry, Payment, Refund, RideBilling
from billing.selectors import wallet as wallet_selectors


def ride_billing_get(*, ride_id: UUID) -> RideBilling | None:
    return RideBilling.objects.filter(ride_id=ride_id).select_related("hold").first()


@dataclass(frozen=True)
class RidePaid:
    """How a ride's fare was paid: ``wallet + card + outstanding`` is the fare total."""

    wallet: Decimal  # bonus and cash the rider already had
    card: Decimal  # card money captured for this ride (its hold, its extra charge)
    outstanding: Decimal  # debt the ride left that its own card money has not paid since


def ride_paid(*, ride_id: UUID, charge: dict[str, Decimal] | None = None) -> RidePaid:
    """How the ride was paid, from what moved in the ledger (zeros before the charge and for a free ride).

    The ``ride_charge`` transaction debits the rider's bonus, cash and, for what could not be collected, the
    receivable. Card money captured for the ride is first booked into cash (``card_payment``; any debt is then
    paid from it by ``settle:<that transaction>``), so part of the cash the ride spent is card money: what the
    ride's card payments left in cash before the charge. Card money captured after the charge (the provider's
    answer came late, by webhook) pays the debt the ride left: that part moves from outstanding to card.

    ``charge``: the charge's debits by account kind, for the charge itself while it posts them (every card
    payment it can see then came before it).
    """
    zero = Decimal(0)
    charged_at = None
    if charge is None:
        rows = list(LedgerEntry.objects.filter(
            transaction__idempotency_key=f"ride_charge:{ride_id}",
            account__kind__in=wallet_selectors.RIDER_KINDS,
        ).values_list("account__kind", "amount", "transaction__created_at"))
        if not rows:
            return RidePaid(zero, zero, zero)
        charge, charged_at = {kind: amount for kind, amount, _ in rows}, rows[0][2]
    bonus, cash, debt = (charge.get(kind, zero) for kind in
                         (AccountKind.RIDER_BONUS, AccountKind.RIDER_CASH, AccountKind.RIDER_RECEIVABLE))
    into_cash = {txn: (-amount, at) for txn, at, amount in LedgerEntry.objects.filter(
        transaction__ride_id=ride_id, transaction__kind="card_payment", account__kind=AccountKind.RIDER_CASH,
        transaction__payment__purpose__in=[Payment.Purpose.RIDE_HOLD, Payment.Purpose.RIDE_EXTRA],
    ).values_list("transaction_id", "transaction__created_at", "amount")}
    settled = {UUID(key.removeprefix("settle:")): -amount for key, amount in LedgerEntry.objects.filter(
        transaction__idempotency_key__in=[f"settle:{txn}" for txn in into_cash],
        account__kind=AccountKind.RIDER_RECEIVABLE,
    ).values_list("transaction__idempotency_key", "amount")} if into_cash else {}
    later = {txn for txn, (_, at) in into_cash.items() if charged_at is not None and at > charged_at}
    before = sum((amount - settled.get(txn, zero) for txn, (amount, _) in into_cash.items() if txn not in later), zero)
    after = sum((settled.get(txn, zero) for txn in later), zero)
    card_then, card_later = min(before, cash), min(after, debt)
    return RidePaid(wallet=bonus + cash - card_then, card=card_then + card_later, outstanding=debt - card_later)


def ride_ids_awaiting_charge(*, since: datetime) -> list[UUID]:
    """Rides secured (held) or mid-charge since ``since``: the rides app retries the final charge of ended ones."""
    return list(
        RideBilling.objects.filter(
            status__in=[RideBilling.Status.HELD, RideBilling.Status.CHARGING], created_at__gte=since
        ).values_list("ride_id", flat=True)
    )


def ride_payments(*, ride_id: UUID) -> list[Payment]:
    """The ride's card payments (its hold, an extra charge), oldest first (indexed by ride_id)."""
    return list(Payment.objects.filter(ride_id=ride_id).order_by("created_at"))


def ride_refunds(*, ride_id: UUID) -> list[Refund]:
    """Every refund of the ride, whatever its state, oldest first (indexed by ride_id)."""
    return list(Refund.objects.filter(ride_id=ride_id).order_by("created_at"))


def ride_billings_for(*, ride_ids: list[UUID]) -> dict[UUID, RideBilling]:
    """The billing rows of these rides by ride id (one query; rides never charged are missing)."""
    return {b.ride_id: b for b in RideBilling.objects.filter(ride_id__in=ride_ids)}


def refunds_of_rider(*, user_id: UUID, limit: int = 20) -> list[Refund]:
    """The rider's refunds, newest first, with who made them."""
    return list(Refund.objects.filter(user_id=user_id).select_related("created_by").order_by("-created_at")[:limit])


def ride_refundable(*, ride_id: UUID) -> Decimal | None:
    """What is left to refund of a charged ride (what was paid less refunds not failed); ``None`` if not charged.
    The same sum ``billing.services.refunds`` checks a refund against, under the ride's lock."""
    billing = RideBilling.objects.filter(ride_id=ride_id).first()
    if billing is None or billing.status != RideBilling.Status.CHARGED:
        return None
    refunded = (Refund.objects.filter(ride_id=ride_id).exclude(status=Refund.Status.FAILED)
                .aggregate(s=Sum("amount"))["s"]) or Decimal(0)
    return Decimal(billing.fare_total or 0) - Decimal(billing.debt) - refunded
