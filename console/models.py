"""The dashboard's hourly rollup: one row per city and local hour with any ride or money in it.

Why a rollup model here rather than one in rides and one in billing: the figures of one hour come from both apps
and are always read together, per city and hour; one table, one rebuild (``console.services.rollup_rebuild``)
and one watermark keep the page to a single indexed range read. The rows are derived data: rides and billing stay
the sources, read through their selectors, and any range can be rebuilt from them at any time.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from fleet.models import City


def _money(help_text: str) -> models.DecimalField:
    return models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0), help_text=help_text)


class CityHourRollup(models.Model):
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the city's local hour (stored in UTC)")
    rides = models.PositiveIntegerField(default=0, help_text="Rides ended in this hour")
    duration_s = models.BigIntegerField(default=0, help_text="Their summed duration")
    distance_m = models.BigIntegerField(default=0, help_text="Their summed distance")
    failed_unlocks = models.PositiveIntegerField(default=0, help_text="Rides cancelled before the vehicle unlocked")
    charged_net = _money("Credited to revenue:<city>, net of VAT")
    charged_vat = _money("Credited to vat_payable:<city>")
    discounts = _money("Fare discounts of the rides charged")
    refunded_net = _money("Refunds of the city's rides, net of VAT")
    refunded_vat = _money("VAT given back with those refunds")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["city", "hour"], name="consolerollup_city_hour")]

    def __str__(self) -> str:
        return f"{self.city_id} {self.hour:%Y-%m-%d %H:%M}"


class RollupWatermark(models.Model):
    """Every hour of the city before ``until`` is in ``CityHourRollup``; the dashboard computes later ones live."""

    city = models.OneToOneField(City, on_delete=models.CASCADE, primary_key=True, related_name="+")
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.city_id} rolled up until {self.until:%Y-%m-%d %H:%M}"


class SupportNote(models.Model):
    """What support wrote or did about a rider, shown on the rider page (``console.support``): append-only.

    A note is written by hand, or records an action taken from the page (refund, goodwill, force-end, block,
    unblock, resend receipt) with who and when. The action's note is written *before* the action runs, keyed by
    the confirmation form's ``submission`` token (unique), so a double submit finds the note and does nothing;
    ``outcome`` is then set once ("" while the action runs: a crash in between leaves it visibly unknown)."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        REFUND = "refund", "Refund"
        GOODWILL = "goodwill", "Goodwill credit"
        FORCE_END = "force_end", "Force-end"
        BLOCK = "block", "Block"
        UNBLOCK = "unblock", "Unblock"
        RECEIPT = "receipt", "Receipt resent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.NOTE)
    text = models.TextField(max_length=2000)
    outcome = models.CharField(max_length=255, blank=True, help_text="What the action did, or why it failed")
    ok = models.BooleanField(null=True, help_text="Whether the action succeeded; empty for a note or while it runs")
    submission = models.UUIDField(null=True, blank=True, unique=True, editable=False,
                                  help_text="The confirmation form's token: one note (and one action) per submit")

    class Meta:
        indexes = [models.Index(fields=["rider", "-created_at"], name="supportnote_rider_created")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.rider_id} by {self.author_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Support notes are append-only: add a new note instead of changing one.")
        super().save(*args, **kwargs)
