"""Housekeeping: void card holds that no ride owns (the hold's answer came back only after the ride gave up)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.models import Payment, RideBilling
from billing.services import payments

ORPHAN_AFTER = timedelta(minutes=15)


def orphan_holds_void(*, older_than: timedelta = ORPHAN_AFTER) -> int:
    """Void authorised ride holds without a RideBilling (e.g. a timed-out hold later confirmed by a webhook)."""
    owned = RideBilling.objects.filter(hold=OuterRef("pk"))
    orphans = Payment.objects.filter(
        purpose=Payment.Purpose.RIDE_HOLD, status=Payment.Status.AUTHORISED,
        created_at__lt=timezone.now() - older_than,
    ).exclude(Exists(owned))
    voided = 0
    for hold in orphans:
        if payments.payment_void(payment=hold).status == Payment.Status.VOIDED:
            voided += 1
    return voided
