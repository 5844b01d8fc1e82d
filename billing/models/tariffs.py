"""Tariffs per city and vehicle type, versioned: an edit publishes a new row, old versions stay as they were
(rides keep the TariffSnapshot JSON they started with, so a past fare can always be explained)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class ReservationMode(models.TextChoices):
    FREE = "free"
    FLAT = "flat"
    PER_MINUTE = "per_minute"


def _money(**kwargs: object) -> models.DecimalField:  # type: ignore[type-arg]
    return models.DecimalField(max_digits=12, decimal_places=4, **kwargs)  # type: ignore[arg-type]


class Tariff(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    city = models.ForeignKey("fleet.City", on_delete=models.PROTECT, related_name="tariffs")
    vehicle_type = models.ForeignKey("fleet.VehicleType", on_delete=models.PROTECT, related_name="tariffs")
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    name = models.CharField(max_length=120, blank=True)
    currency = models.CharField(max_length=3)
    unlock_fee = _money(default=Decimal(0))
    brackets = models.JSONField(help_text='[{"start_minute": 0, "per_minute": "0.25"}, ...], first at minute 0')
    per_km = _money(null=True, blank=True)
    pause_per_minute = _money(default=Decimal(0))
    reservation_mode = models.CharField(max_length=16, choices=ReservationMode.choices, default=ReservationMode.FREE)
    reservation_flat_fee = _money(default=Decimal(0))
    reservation_per_minute = _money(default=Decimal(0))
    reservation_free_minutes = models.PositiveIntegerField(default=0)
    ride_cap = _money(null=True, blank=True)
    daily_cap = _money(null=True, blank=True)
    free_minutes = models.PositiveIntegerField(default=0)
    minimum_fare = _money(default=Decimal(0))
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal(0), help_text="0.19 for 19 %")
    zone_adjustments = models.JSONField(default=list, blank=True,
                                        help_text='[{"zone_id": "...", "name": "...", "amount": "-0.50"}]')
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["city", "vehicle_type", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["city", "vehicle_type", "version"], name="tariff_version_unique"),
            models.UniqueConstraint(fields=["city", "vehicle_type"], condition=models.Q(is_current=True),
                                    name="tariff_one_current_per_city_and_type"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}"

    @property
    def plan_id(self) -> str:
        """Public id (GBFS plan_id): changes with every version, so a plan id always means one price."""
        return f"{self.city.slug}-{self.vehicle_type.code}-v{self.version}"
