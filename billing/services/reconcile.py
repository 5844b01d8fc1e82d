"""Recompute every account's balance from its entries and compare with the cached balance; the nightly run of
that check records its result (``ReconcileRun``) and alerts finance staff by email when anything disagrees."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from django.contrib.auth.backends import ModelBackend
from django.core.mail import send_mail
from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import LedgerAccount, LedgerEntry, ReconcileRun

logger = logging.getLogger(__name__)

# Who is alerted: staff who may read the ledger (roles finance and admin, and superusers).
ALERT_PERMISSION = "billing.view_ledgertransaction"


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


def reconcile_nightly(*, now: datetime | None = None) -> ReconcileRun:
    """The beat task's run: once per UTC night, idempotent.

    A second call the same night (a second beat, a redelivered task) returns the finished run without checking or
    alerting again; a run that died half-way (no ``finished_at``) is checked again, an alert whose email failed is
    sent again. The alert is claimed with a conditional UPDATE, so two concurrent runs of one night send one
    email."""
    now = now or timezone.now()
    night = now.astimezone(UTC).date()
    run, _ = ReconcileRun.objects.get_or_create(night=night, defaults={"started_at": now})
    if run.finished_at is None:
        # Read-only and outside any transaction: the check sees committed books, and takes no lock.
        found = ledger_reconcile()
        rows = [{"account": m.account, "cached": str(m.cached), "from_entries": str(m.from_entries),
                 "difference": str(m.from_entries - m.cached)} for m in found]
        ReconcileRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), mismatch_count=len(found),
                                                      mismatches=rows)
        run.refresh_from_db()
    if run.mismatch_count and run.alerted_at is None:  # also retries an alert whose email failed
        _alert(run, night)
        run.refresh_from_db()
    return run


def _alert(run: ReconcileRun, night: date) -> None:
    recipients = sorted({u.email for u in ModelBackend().with_perm(ALERT_PERMISSION, is_active=True)
                         if u.is_staff and u.email})
    logger.error("ledger reconciliation %s: %d mismatch(es); alerting %s", night, run.mismatch_count,
                 ", ".join(recipients) or "nobody (no staff member may read the ledger)")
    claimed = ReconcileRun.objects.filter(pk=run.pk, alerted_at__isnull=True).update(
        alerted_at=timezone.now(), alerted_to=recipients)
    if not claimed or not recipients:
        return
    lines = [f"- {m['account']}: cached {m['cached']}, entries {m['from_entries']}" for m in run.mismatches[:50]]
    more = [f"... and {run.mismatch_count - 50} more"] if run.mismatch_count > 50 else []
    body = "\n".join([f"The nightly ledger reconciliation of {night} found {run.mismatch_count} mismatch(es):", "",
                      *lines, *more, "", "The run is in the admin: Billing > Nightly ledger reconciliations.",
                      "`manage.py billing_reconcile` repeats the check."])
    try:
        send_mail(f"[Freewheel] Ledger mismatch: {run.mismatch_count} on {night}", body, None, recipients)
    except Exception:
        # Un-claim, so that the task's next run (or a manual one) alerts; then let the task fail visibly.
        ReconcileRun.objects.filter(pk=run.pk).update(alerted_at=None, alerted_to=[])
        raise
