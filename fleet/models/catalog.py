"""Fleet models. Cities and vehicle types are the base every other app refers to (tariffs, zones, rides).

Enums follow GBFS 3.0 ``vehicle_types.json`` / MDS 2.0 ``vehicle-type`` and ``propulsion-type`` verbatim, so
feeds are derived without translation.
"""

from __future__ import annotations

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)")


def validate_currency(value: str) -> None:
    if len(value) != 3 or not value.isalpha() or not value.isupper():
        raise ValidationError(f"{value!r} is not an ISO-4217 currency code (e.g. EUR)")


class City(models.Model):
    """One operating city (a GBFS system). Vehicles, zones and tariffs belong to exactly one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(max_length=64, unique=True, help_text="Public id, used as the GBFS system_id")
    name = models.CharField(max_length=120)
    timezone = models.CharField(max_length=64, validators=[validate_timezone], help_text="IANA, e.g. Europe/Berlin")
    currency = models.CharField(max_length=3, validators=[validate_currency], help_text="ISO-4217, e.g. EUR")
    default_language = models.CharField(max_length=16, default="en", help_text="BCP-47, e.g. de or en-GB")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "cities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FormFactor(models.TextChoices):
    BICYCLE = "bicycle"
    CARGO_BICYCLE = "cargo_bicycle"
    CAR = "car"
    MOPED = "moped"
    SCOOTER_STANDING = "scooter_standing"
    SCOOTER_SEATED = "scooter_seated"
    OTHER = "other"


class PropulsionType(models.TextChoices):
    HUMAN = "human"
    ELECTRIC_ASSIST = "electric_assist"
    ELECTRIC = "electric"
    COMBUSTION = "combustion"
    COMBUSTION_DIESEL = "combustion_diesel"
    HYBRID = "hybrid"
    PLUG_IN_HYBRID = "plug_in_hybrid"
    HYDROGEN_FUEL_CELL = "hydrogen_fuel_cell"


class VehicleType(models.Model):
    """A model of vehicle (GBFS ``vehicle_types``). Shared by all cities of a deployment."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.SlugField(max_length=64, unique=True, help_text="Public id, used as the GBFS vehicle_type_id")
    name = models.CharField(max_length=120)
    form_factor = models.CharField(max_length=32, choices=FormFactor.choices)
    propulsion_type = models.CharField(max_length=32, choices=PropulsionType.choices)
    max_range_meters = models.PositiveIntegerField(
        null=True, blank=True, help_text="Range on a full charge; required by GBFS for motorised types"
    )
    max_permitted_speed_kph = models.PositiveSmallIntegerField(null=True, blank=True)
    rider_capacity = models.PositiveSmallIntegerField(default=1)
    min_rider_age = models.PositiveSmallIntegerField(
        default=16, help_text="Riders younger than this may not start a ride on this type"
    )
    make = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(propulsion_type="human") | models.Q(max_range_meters__isnull=False),
                name="vehicletype_motorised_has_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name
