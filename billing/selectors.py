"""Reads for views and other apps: wallet balances, the ride-start gate, payment methods, ledger history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from billing.models import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    PassProduct,
    Payment,
    PaymentMethod,
    RideBilling,
    RiderPass,
)
from fleet.models import City

RIDER_KINDS = (AccountKind.RIDER_CASH, AccountKind.RIDER_BONUS, AccountKind.RIDER_RECEIVABLE)


@dataclass(frozen=True)
class WalletBalance:
    """In the rider's sign: ``cash`` and ``bonus`` >= 0 are theirs, ``debt`` >= 0 is what they owe."""

    currency: str
    cash: Decimal
    bonus: Decimal
    debt: Decimal

    @property
    def available(self) -> Decimal:
        return self.cash + self.bonus


def wallet_balance(*, user: User, currency: str) -> WalletBalance:
    rows = dict(
        LedgerAccount.objects.filter(user=user, currency=currency, kind__in=RIDER_KINDS).values_list("kind", "balance")
    )
    zero = Decimal(0)
    return WalletBalance(
        currency=currency,
        cash=-rows.get(AccountKind.RIDER_CASH, zero),
        bonus=-rows.get(AccountKind.RIDER_BONUS, zero),
        debt=rows.get(AccountKind.RIDER_RECEIVABLE, zero),
    )


def wallet_currencies(*, user: User) -> list[str]:
    return sorted(set(LedgerAccount.objects.filter(user=user).values_list("currency", flat=True)))


def payment_method_default(*, user: User) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(user=user, is_default=True).first()


def payment_methods_for(*, user: User) -> QuerySet[PaymentMethod]:
    return PaymentMethod.objects.filter(user=user).order_by("-created_at")


@dataclass(frozen=True)
class RiderMoney:
    """What a ride start needs to know of a rider's money, read once: the gate, then the hold, use it."""

    balance: WalletBalance
    method: PaymentMethod | None

    @property
    def refusal(self) -> str | None:
        """``None`` when the rider may start a ride, else the error code (see ``rider_can_start_ride``)."""
        if self.balance.debt > 0:
            return "outstanding_debt"
        if self.method is not None or self.balance.available >= settings.BILLING_MIN_WALLET_BALANCE:
            return None
        return "payment_method_required"


def rider_money(rider: User, currency: str) -> RiderMoney:
    """The rider's wallet balance in ``currency`` and default card: two queries."""
    return RiderMoney(balance=wallet_balance(user=rider, currency=currency), method=payment_method_default(user=rider))


def rider_can_start_ride(rider: User, city: City) -> tuple[bool, str | None]:
    """The money gate for the rides app: ``(True, None)`` or ``(False, error_code)``.

    Debt in the city's currency blocks (``outstanding_debt``); otherwise a saved card or a wallet holding at
    least ``BILLING_MIN_WALLET_BALANCE`` is enough (``payment_method_required`` when neither).
    """
    refusal = rider_money(rider, city.currency).refusal
    return refusal is None, refusal


def wallet_entries_for(*, user: User) -> QuerySet[LedgerEntry]:
    """The rider's wallet history: entries on their cash, bonus and debt accounts, newest first."""
    return (
        LedgerEntry.objects.filter(account__user=user, account__kind__in=RIDER_KINDS)
        .select_related("transaction", "account")
        .order_by("-created_at", "-id")
    )


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
            transaction__idempotency_key=f"ride_charge:{ride_id}", account__kind__in=RIDER_KINDS,
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


def pass_catalogue(*, city_slug: str | None = None) -> QuerySet[PassProduct]:
    products = PassProduct.objects.filter(active=True).select_related("city")
    if city_slug:
        products = products.filter(Q(city__isnull=True) | Q(city__slug=city_slug))
    return products


def passes_valid_for(*, user: User) -> QuerySet[RiderPass]:
    """Passes not yet expired (a used-up minute pack is still listed until it expires), soonest ending first."""
    return (RiderPass.objects.filter(user=user, ends_at__gt=timezone.now()).select_related("product__city")
            .order_by("ends_at"))
