"""Zones of a city (GBFS ``geofencing_zones``): geometry as GeoJSON MultiPolygon, rules as GBFS rule flags."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

from fleet.models.catalog import City, VehicleType


class ZoneKind(models.TextChoices):
    OPERATING_AREA = "operating_area"
    NO_PARKING = "no_parking"
    NO_RIDE = "no_ride"
    SLOW = "slow"
    PARKING_MANDATORY = "parking_mandatory"
    PARKING_PREFERRED = "parking_preferred"
    CAP = "cap", "Vehicle cap (compliance only)"


# GBFS rule flags a zone of each kind gets unless the editor says otherwise.
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    ZoneKind.OPERATING_AREA: {"ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True},
    ZoneKind.NO_PARKING: {"ride_start_allowed": True, "ride_end_allowed": False, "ride_through_allowed": True},
    ZoneKind.NO_RIDE: {"ride_start_allowed": False, "ride_end_allowed": False, "ride_through_allowed": False},
    ZoneKind.SLOW: {"ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True},
    ZoneKind.PARKING_MANDATORY: {
        "ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True, "station_parking": True,
    },
    ZoneKind.PARKING_PREFERRED: {
        "ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True, "station_parking": False,
    },
    # A cap zone only counts vehicles for ops (``vehicle_cap``): it takes no part in the geofence.
    ZoneKind.CAP: {"ride_start_allowed": True, "ride_end_allowed": True, "ride_through_allowed": True},
}


class _ZoneHistory(HistoricalRecords):
    """django-simple-history's records, with readable names for the zone types' history table (its default,
    "HistoricalZone_vehicle_types", would read "...typess" in the plural)."""

    def get_meta_options_m2m(self, through_model: Any) -> dict[str, Any]:
        return super().get_meta_options_m2m(through_model) | {
            "verbose_name": "historical zone vehicle type", "verbose_name_plural": "historical zone vehicle types",
        }


class Zone(models.Model):
    """A geofencing zone. Lower ``priority`` comes first in the GBFS feature array and so wins among overlaps."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="zones")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=ZoneKind.choices)
    priority = models.IntegerField(default=100, help_text="Lower wins where zones overlap")
    geometry = models.JSONField(help_text="GeoJSON MultiPolygon in WGS84 (lon, lat)")
    starts_at = models.DateTimeField(null=True, blank=True, help_text="Zone active from (GBFS start)")
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Zone active until (GBFS end)")
    vehicle_types = models.ManyToManyField(
        VehicleType, blank=True, related_name="+", help_text="Rules apply to these types only; empty = all types"
    )
    ride_start_allowed = models.BooleanField(default=True)
    ride_end_allowed = models.BooleanField(default=True)
    ride_through_allowed = models.BooleanField(default=True)
    maximum_speed_kph = models.PositiveSmallIntegerField(null=True, blank=True)
    station_parking = models.BooleanField(null=True, blank=True, help_text="GBFS station_parking; unset = omitted")
    active = models.BooleanField(default=True)
    vehicle_cap = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Most vehicles parked in the zone (a city's MDS count rule); shown to ops, not enforced at trip end",
    )
    # Where an imported zone comes from (MDS Policy import); empty for zones made by hand.
    mds_policy_id = models.UUIDField(null=True, blank=True, editable=False)
    mds_rule_id = models.UUIDField(null=True, blank=True, editable=False)
    mds_geography_id = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Every save is a version (who, when, what changed), shown and restorable in the admin (docs/admin.md).
    history = _ZoneHistory(m2m_fields=[vehicle_types], excluded_fields=["updated_at"])

    class Meta:
        ordering = ["city", "priority", "created_at"]
        indexes = [models.Index(fields=["city", "active"], name="zone_city_active")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind=ZoneKind.SLOW) | models.Q(maximum_speed_kph__isnull=False),
                name="zone_slow_has_max_speed",
            ),
            models.CheckConstraint(
                condition=models.Q(starts_at__isnull=True) | models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("starts_at")),
                name="zone_schedule_ordered",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind=ZoneKind.CAP) | models.Q(vehicle_cap__isnull=False),
                name="zone_cap_has_vehicle_cap",
            ),
            models.UniqueConstraint(
                fields=["city", "mds_policy_id", "mds_rule_id", "mds_geography_id"],
                condition=models.Q(mds_policy_id__isnull=False), name="zone_mds_source_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
