"""The one way money moves: ``ledger_post`` writes a balanced transaction and updates the cached balances."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction

from accounts.models import User
from billing import errors
from billing.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction, Payment
from core.money import quantize
from fleet.models import City


@dataclass(frozen=True)
class Line:
    """One leg of a posting: ``amount`` > 0 debits the account, < 0 credits it."""

    account: LedgerAccount
    amount: Decimal


def debit(account: LedgerAccount, amount: Decimal) -> Line:
    return Line(account, amount)


def credit(account: LedgerAccount, amount: Decimal) -> Line:
    return Line(account, -amount)


def rider_account(*, user: User, kind: AccountKind, currency: str) -> LedgerAccount:
    account, _ = LedgerAccount.objects.get_or_create(
        code=f"{kind}:{user.pk}:{currency}", defaults={"kind": kind, "currency": currency, "user": user}
    )
    return account


def rider_accounts(*, user: User, kinds: Sequence[AccountKind], currency: str) -> list[LedgerAccount]:
    """The rider's accounts of ``kinds``, in that order, created when missing: one query when they all exist."""
    codes = {f"{kind}:{user.pk}:{currency}": kind for kind in kinds}
    found = {account.code: account for account in LedgerAccount.objects.filter(code__in=list(codes))}
    return [found.get(code) or rider_account(user=user, kind=kind, currency=currency) for code, kind in codes.items()]


def system_account(*, kind: AccountKind, currency: str, city: City | None = None) -> LedgerAccount:
    code = f"{kind}:{city.slug}:{currency}" if city else f"{kind}:{currency}"
    account, _ = LedgerAccount.objects.get_or_create(
        code=code, defaults={"kind": kind, "currency": currency, "city": city}
    )
    return account


def _checked_deltas(lines: Sequence[Line]) -> dict[int, Line]:
    """Quantize, drop nothing silently, and refuse unbalanced or mixed-currency lines before the database does."""
    merged: dict[int, Line] = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        currency = line.account.currency
        amount = quantize(line.amount, currency)
        if amount != line.amount or not amount.is_finite():
            raise errors.AmountInvalid(f"{line.amount} has more decimals than {currency} allows.")
        previous = merged.get(line.account.pk)
        merged[line.account.pk] = Line(line.account, amount + (previous.amount if previous else Decimal(0)))
        totals[currency] += amount
    merged = {pk: line for pk, line in merged.items() if line.amount != 0}
    if len(merged) < 2 or any(total != 0 for total in totals.values()):
        raise errors.LedgerUnbalanced(details_totals={c: str(t) for c, t in totals.items()})
    return merged


@transaction.atomic
def ledger_post(
    *,
    kind: str,
    lines: Sequence[Line],
    idempotency_key: str,
    description: str = "",
    user: User | None = None,
    ride_id: UUID | None = None,
    payment: Payment | None = None,
    metadata: dict[str, Any] | None = None,
    actor: User | None = None,
) -> LedgerTransaction:
    """Post a balanced transaction once per ``idempotency_key``; a retry returns the first transaction.

    Raises ``InsufficientFunds`` when a rider's wallet account would be overdrawn (a database check).
    """
    deltas = _checked_deltas(lines)
    try:
        with transaction.atomic():  # a concurrent duplicate blocks here until the first commits, then fails
            txn = LedgerTransaction.objects.create(
                kind=kind, idempotency_key=idempotency_key, description=description[:255], user=user,
                ride_id=ride_id, payment=payment, metadata=metadata or {}, actor=actor,
            )
    except IntegrityError:
        existing = LedgerTransaction.objects.get(idempotency_key=idempotency_key)
        if existing.kind != kind:
            raise errors.IdempotencyKeyConflict() from None
        return existing
    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=txn, account=line.account, currency=line.account.currency, amount=line.amount)
        for line in deltas.values()
    )
    _apply_balances(deltas)
    return txn


def _apply_balances(deltas: dict[int, Line]) -> None:
    """Two statements whatever the number of accounts: lock the rows in id order (so two postings touching the
    same accounts never deadlock), then add every delta in one UPDATE."""
    ids = sorted(deltas)
    placeholders = ", ".join(["(%s, %s::numeric)"] * len(ids))
    params = [value for pk in ids for value in (pk, deltas[pk].amount)]
    try:  # no savepoint of its own: ledger_post's undoes the transaction and entries too if this raises
        with connection.cursor() as cursor:
            list(LedgerAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
            cursor.execute(  # only placeholders are interpolated
                "UPDATE billing_ledgeraccount AS a SET balance = a.balance + v.delta "  # noqa: S608
                f"FROM (VALUES {placeholders}) AS v(id, delta) WHERE a.id = v.id",
                params,
            )
    except IntegrityError as exc:
        if "ledgeraccount_wallet_not_overdrawn" in str(exc):
            raise errors.InsufficientFunds() from None
        raise
