"""Vehicles on the street and their append-only event log (MDS ``events``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import OpClass
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Cast, Upper

from fleet import states
from fleet.models.catalog import City, VehicleType
from fleet.states import MdsState, Status


class Flag(models.TextChoices):
    DAMAGED = "damaged"
    NEEDS_CLEANING = "needs_cleaning"
    HELMET_MISSING = "helmet_missing"
    TIPPED_OVER = "tipped_over"
    REPORTED_BY_RIDER = "reported_by_rider"


class Vehicle(models.Model):
    """One vehicle. ``status`` changes only through ``fleet.services.vehicle_transition``."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(
        max_length=12, unique=True, validators=[RegexValidator(r"^[A-Z0-9]{4,12}$")],
        help_text="Public code printed on the QR sticker (upper-case letters and digits)",
    )
    imei = models.CharField(
        max_length=15, unique=True, validators=[RegexValidator(r"^\d{15}$")], help_text="IMEI of the IoT unit"
    )
    vehicle_type = models.ForeignKey(VehicleType, on_delete=models.PROTECT, related_name="vehicles")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="vehicles")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_WORKSHOP)
    status_before_loss = models.CharField(
        max_length=20, choices=Status.choices, blank=True,
        help_text="Status when contact was lost; restored by comms_restored/located",
    )
    last_event_at = models.DateTimeField(null=True, blank=True, help_text="Timestamp of the last applied event")
    trip_id = models.UUIDField(null=True, blank=True, help_text="Open reservation or trip, if any")
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(100)])
    range_meters = models.PositiveIntegerField(null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    cell = models.IntegerField(null=True, blank=True, editable=False, help_text="fleet.grid cell of lat/lon")
    position_at = models.DateTimeField(null=True, blank=True, help_text="When the position was reported")
    locked = models.BooleanField(default=True)
    odometer_meters = models.PositiveBigIntegerField(default=0)
    speed_kph = models.FloatField(null=True, blank=True, help_text="Last reported speed")
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the unit last sent anything (telemetry liveness: comms_lost/restored)"
    )
    flags = ArrayField(models.CharField(max_length=32, choices=Flag.choices), default=list, blank=True)
    secret_hash = models.CharField(max_length=64, blank=True, editable=False, help_text="SHA-256 of the IoT secret")
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        permissions = [
            ("rotate_vehicle_credential", "Can rotate or revoke a vehicle's IoT credential"),
            ("set_vehicle_maintenance", "Can set a vehicle to maintenance"),
            ("retire_vehicle", "Can retire a vehicle"),
        ]
        indexes = [
            # The nearby search: only rentable vehicles are in the index, looked up by grid cell. lat/lon stay out
            # of it so that a telemetry update moving a vehicle inside its cell is a HOT update (no index writes;
            # the table's fillfactor leaves room for it, migration 0008).
            models.Index(fields=["cell"], condition=models.Q(status=Status.AVAILABLE), name="vehicle_available_cell"),
            models.Index(fields=["city", "status"], name="vehicle_city_status"),
            # The admin's search by the beginning of a code, any case (UPPER(code::text) LIKE 'V00%').
            models.Index(OpClass(Upper(Cast("code", models.TextField())), name="text_pattern_ops"),
                         name="vehicle_code_upper_prefix"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(battery_pct__lte=100), name="vehicle_battery_pct_range"),
            models.CheckConstraint(
                condition=models.Q(lat__isnull=True, lon__isnull=True, cell__isnull=True)
                | models.Q(lat__gte=-90, lat__lte=90, lon__gte=-180, lon__lte=180, cell__isnull=False),
                name="vehicle_position_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status__in=[Status.RESERVED, Status.ON_TRIP]) | models.Q(trip_id__isnull=False),
                name="vehicle_trip_id_when_in_use",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def mds_state(self) -> str:
        return states.mds_state(self.status)


class ActorKind(models.TextChoices):
    RIDER = "rider"
    OPS = "ops"
    DEVICE = "device"
    SYSTEM = "system"


class VehicleEvent(models.Model):
    """One MDS event. Append-only: a database trigger (migration 0003) refuses UPDATE and DELETE."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="MDS event_id")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="events")
    vehicle_state = models.CharField(max_length=20, choices=MdsState.choices)
    event_types = ArrayField(models.CharField(max_length=32))
    status = models.CharField(max_length=20, choices=Status.choices, help_text="Internal status after the event")
    previous_status = models.CharField(max_length=20, choices=Status.choices)
    timestamp = models.DateTimeField(help_text="When the event happened (device or server clock)")
    recorded_at = models.DateTimeField(auto_now_add=True)
    applied = models.BooleanField(
        default=True, help_text="False for an out-of-order event: logged, but the vehicle state did not move back"
    )
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    battery_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    trip_id = models.UUIDField(null=True, blank=True)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-timestamp", "-recorded_at"]
        indexes = [
            models.Index(fields=["vehicle", "-timestamp"], name="vehicleevent_vehicle_ts"),
            # The MDS feeds read the log by time (an hour of /events/historical, /events/recent's keyset pages).
            models.Index(fields=["timestamp", "id"], name="vehicleevent_ts_id"),
            # The admin's filters and search on 10M+ rows (python -m bench admin): each filter value newest first,
            # rows not applied (rare), and a trip's events.
            models.Index(fields=["status", "-timestamp"], name="vehicleevent_status_ts"),
            models.Index(fields=["vehicle_state", "-timestamp"], name="vehicleevent_state_ts"),
            models.Index(fields=["actor_kind", "-timestamp"], name="vehicleevent_actor_ts"),
            models.Index(fields=["-timestamp"], condition=models.Q(applied=False), name="vehicleevent_not_applied"),
            models.Index(fields=["trip_id"], condition=models.Q(trip_id__isnull=False), name="vehicleevent_trip"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.vehicle_state} {','.join(self.event_types)}"
