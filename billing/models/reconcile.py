"""One row per night of ``billing_reconcile`` run by beat: what it found, and whether finance was alerted."""

from __future__ import annotations

from django.db import models


class ReconcileRun(models.Model):
    """The nightly ledger check (``billing.services.reconcile.reconcile_nightly``).

    ``night`` (a UTC date) is unique: a second run of the same night (two beats, a redelivered task) finds this row
    and does not alert again; ``alerted_at`` is claimed with a conditional UPDATE before the email goes out."""

    night = models.DateField(unique=True, help_text="The UTC date the run belongs to")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    mismatch_count = models.PositiveIntegerField(default=0)
    mismatches = models.JSONField(default=list, blank=True,
                                  help_text="Each account (or transaction) whose entries disagree with the books")
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When finance staff were emailed")
    alerted_to = models.JSONField(default=list, blank=True, help_text="Who was emailed")

    class Meta:
        ordering = ["-night"]
        verbose_name = "nightly ledger reconciliation"

    def __str__(self) -> str:
        state = "running" if self.finished_at is None else f"{self.mismatch_count} mismatch(es)"
        return f"reconciliation {self.night}: {state}"

    @property
    def ok(self) -> bool:
        return self.finished_at is not None and self.mismatch_count == 0
