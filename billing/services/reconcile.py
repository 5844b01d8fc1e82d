"""Recompute every account's balance from its entries and compare with the cached balance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import Coalesce

from billing.models import LedgerAccount, LedgerEntry


@dataclass(frozen=True)
class Mismatch:
    account: str
    cached: Decimal
    from_entries: Decimal


def ledger_reconcile() -> list[Mismatch]:
    """Cached balances that disagree with their entries, plus any transaction that does not balance."""
    sums = dict(
        LedgerEntry.objects.values("account").annotate(total=Sum("amount")).values_list("account", "total")
    )
    mismatches = [
        Mismatch(account.code, account.balance, sums.get(account.pk, Decimal(0)))
        for account in LedgerAccount.objects.order_by("pk")
        if account.balance != sums.get(account.pk, Decimal(0))
    ]
    unbalanced = (
        LedgerEntry.objects.values("transaction", "currency")
        .annotate(total=Coalesce(Sum("amount"), Decimal(0)))
        .exclude(total=0)
    )
    mismatches += [Mismatch(f"transaction:{row['transaction']}", Decimal(0), row["total"]) for row in unbalanced]
    return mismatches
