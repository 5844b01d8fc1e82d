"""The dashboard's hourly rollup: one row per city and local hour with any ride or money in it.

Why a rollup model here rather than one in rides and one in billing: the figures of one hour come from both apps
and are always read together, per city and hour; one table, one rebuild (``console.services.rollup_rebuild``)
and one watermark keep the page to a single indexed range read. The rows are derived data: rides and billing stay
the sources, read through their selectors, and any range can be rebuilt from them at any time.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

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
