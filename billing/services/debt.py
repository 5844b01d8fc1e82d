"""Debt (a positive rider receivable) is settled from the rider's cash whenever cash arrives."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from billing.models import AccountKind, LedgerAccount, LedgerTransaction
from billing.services import ledger
from billing.services.ledger import credit, debit


@transaction.atomic
def debt_settle(*, user: User, currency: str, idempotency_key: str) -> LedgerTransaction | None:
    """Move min(cash, debt) from the rider's cash to their receivable; None when there is nothing to settle."""
    cash = ledger.rider_account(user=user, kind=AccountKind.RIDER_CASH, currency=currency)
    receivable = ledger.rider_account(user=user, kind=AccountKind.RIDER_RECEIVABLE, currency=currency)
    # Lock both in id order (the order ledger_post updates them in) and read fresh balances.
    locked = {a.pk: a for a in LedgerAccount.objects.select_for_update().filter(pk__in=[cash.pk, receivable.pk])
              .order_by("pk")}
    amount = min(-locked[cash.pk].balance, locked[receivable.pk].balance)
    if amount <= 0:
        return None
    return ledger.ledger_post(
        kind="debt_settlement", idempotency_key=idempotency_key, user=user, description="Outstanding balance paid",
        lines=[debit(cash, amount), credit(receivable, amount)],
    )


def debt_settle_after(txn: LedgerTransaction, *, user: User, currency: str) -> None:
    debt_settle(user=user, currency=currency, idempotency_key=f"settle:{txn.pk}")


__all__ = ["debt_settle", "debt_settle_after"]
