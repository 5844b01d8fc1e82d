"""Wallet reads: balances, the ride-start money gate, payment methods, the rider's ledger history."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import User
from billing.models import AccountKind, LedgerAccount, LedgerEntry, PaymentMethod
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


def debt_currencies(*, user: User) -> list[str]:
    """The currencies in which the rider owes money, sorted."""
    owed = LedgerAccount.objects.filter(user=user, kind=AccountKind.RIDER_RECEIVABLE, balance__gt=0)
    return sorted(owed.values_list("currency", flat=True))


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
