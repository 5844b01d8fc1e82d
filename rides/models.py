"""Rides, reservations, the ride's track, per-city ride settings, ratings and problem reports.

A reservation is its own model (its own lifecycle and constraints); a ride starts either from a vehicle code or
from the rider's active reservation. The ride's id is the MDS ``trip_id`` given to the fleet's vehicle events.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from fleet.models import City, Vehicle, VehicleType


class RideState(models.TextChoices):
    UNLOCKING = "unlocking"  # unlock command queued, waiting for the vehicle's acknowledgement
    ACTIVE = "active"
    PAUSED = "paused"  # vehicle locked by the rider; the pause rate applies (MDS: still on_trip)
    LOCKING = "locking"  # end requested, waiting for the lock acknowledgement
    ENDED = "ended"
    CANCELLED = "cancelled"  # never unlocked: nothing charged


OPEN_STATES = (RideState.UNLOCKING, RideState.ACTIVE, RideState.PAUSED, RideState.LOCKING)

# The ETag of the rider API's answers (core.conditional, rides.views) is built on it. A trigger (migration 0006)
# bumps it on every UPDATE that changes the row, whoever issues it: save(update_fields=...), QuerySet.update(), the
# admin, psql. Python never writes it (a column default: raw inserts of seeders and benches get it too); an
# instance's value is stale after its own save.
VERSION_HELP = "Bumped by the database on every change of the row (the API's ETag)"


class CityRideSettings(models.Model):
    """Ride rules of one city; a city without a row uses the field defaults."""

    city = models.OneToOneField(City, on_delete=models.CASCADE, primary_key=True, related_name="ride_settings")
    min_battery_pct = models.PositiveSmallIntegerField(default=15)
    reservation_hold_minutes = models.PositiveSmallIntegerField(default=10)
    reservation_lapse_limit = models.PositiveSmallIntegerField(
        default=3, help_text="Lapsed reservations within the window that trigger a cool-down")
    reservation_lapse_window_hours = models.PositiveSmallIntegerField(default=24)
    reservation_cooldown_minutes = models.PositiveSmallIntegerField(default=60)
    parking_photo_required = models.BooleanField(default=False)
    hold_amount = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("10.00"))
    stale_locked_minutes = models.PositiveSmallIntegerField(
        default=60, help_text="A paused ride without movement for this long is ended automatically")
    max_ride_hours = models.PositiveSmallIntegerField(default=12)

    class Meta:
        verbose_name_plural = "city ride settings"

    def __str__(self) -> str:
        return f"Ride settings of {self.city_id}"


class Reservation(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        CONVERTED = "converted"  # a ride started from it

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reservations")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="+")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal(0))
    currency = models.CharField(max_length=3)
    fee_charged_at = models.DateTimeField(null=True, blank=True, help_text="Fee of a cancelled/lapsed reservation "
                                          "booked by billing (None: free, converted, or not yet)")
    version = models.PositiveIntegerField(db_default=1, editable=False, help_text=VERSION_HELP)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vehicle"], condition=Q(state="active"), name="reservation_one_per_vehicle"),
            models.UniqueConstraint(fields=["rider"], condition=Q(state="active"), name="reservation_one_per_rider"),
        ]
        indexes = [models.Index(fields=["state", "expires_at"], name="reservation_state_expiry"),
                   models.Index(fields=["rider", "-created_at"], name="reservation_rider_created")]

    def __str__(self) -> str:
        return f"Reservation {self.id} ({self.state})"


class Ride(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, help_text="MDS trip_id")
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rides")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="+")
    vehicle_type = models.ForeignKey(VehicleType, on_delete=models.PROTECT, related_name="+")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="+")
    reservation = models.OneToOneField(Reservation, on_delete=models.PROTECT, null=True, blank=True, related_name="ride")
    state = models.CharField(max_length=12, choices=RideState.choices, default=RideState.UNLOCKING)
    tariff = models.JSONField(help_text="fares.TariffSnapshot.to_json() at start")
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="Unlock acknowledged")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_requested_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    pause_count = models.PositiveSmallIntegerField(default=0)
    unlock_command_id = models.UUIDField(null=True, blank=True)
    lock_command_id = models.UUIDField(null=True, blank=True)
    start_lat = models.FloatField(null=True, blank=True)
    start_lon = models.FloatField(null=True, blank=True)
    end_lat = models.FloatField(null=True, blank=True)
    end_lon = models.FloatField(null=True, blank=True)
    duration_s = models.PositiveIntegerField(null=True, blank=True)
    distance_m = models.PositiveIntegerField(null=True, blank=True)
    fare = models.JSONField(null=True, blank=True, help_text="Itemised fare (fares.Fare.to_json())")
    fare_total = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    parking_photo = models.FileField(upload_to="rides/parking/%Y/%m/", blank=True)
    end_reason = models.CharField(max_length=32, blank=True, help_text="rider | ops | auto_stale | auto_max_duration")
    end_note = models.CharField(max_length=300, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    cancel_reason = models.CharField(max_length=64, blank=True)
    version = models.PositiveIntegerField(db_default=1, editable=False, help_text=VERSION_HELP)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rider"], condition=Q(state__in=OPEN_STATES), name="ride_one_open_per_rider"),
            models.UniqueConstraint(fields=["vehicle"], condition=Q(state__in=OPEN_STATES),
                                    name="ride_one_open_per_vehicle"),
            models.CheckConstraint(condition=~Q(state="ended") | Q(ended_at__isnull=False), name="ride_ended_has_time"),
        ]
        indexes = [models.Index(fields=["rider", "-created_at"], name="ride_rider_created"),
                   models.Index(fields=["state", "created_at"], name="ride_state_created"),
                   # MDS /trips (the rides of the agency's cities that ended in an hour) and the dashboard's hourly rollup.
                   models.Index(fields=["city", "ended_at"], name="ride_city_ended"),
                   # A vehicle's newest rides on its admin page (a vehicle in service for years has thousands).
                   models.Index(fields=["vehicle", "-created_at"], name="ride_vehicle_created"),
                   # The admin: newest first, and its filter by end reason (values read by a loose index scan).
                   models.Index(fields=["-created_at"], name="ride_created"),
                   models.Index(fields=["end_reason"], name="ride_end_reason")]
        permissions = [("force_end_ride", "Can force-end a ride")]

    def __str__(self) -> str:
        return f"Ride {self.id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class RideTrackPoint(models.Model):
    id = models.BigAutoField(primary_key=True)
    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="track")
    at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["ride", "at"], name="ridetrack_ride_at")]
        constraints = [models.UniqueConstraint(fields=["ride", "at"], name="ridetrack_one_per_instant")]

    def __str__(self) -> str:
        return f"{self.ride_id} @ {self.at}"


class RideRating(models.Model):
    ride = models.OneToOneField(Ride, on_delete=models.CASCADE, primary_key=True, related_name="rating")
    stars = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="riderating_stars_1_5")]

    def __str__(self) -> str:
        return f"{self.stars} stars for {self.ride_id}"


class ProblemReport(models.Model):
    class Category(models.TextChoices):
        DAMAGED = "damaged"
        BRAKES = "brakes"
        BATTERY = "battery"
        LOCK = "lock"
        DIRTY = "dirty"
        OTHER = "other"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="problems")
    category = models.CharField(max_length=16, choices=Category.choices)
    description = models.CharField(max_length=1000, blank=True)
    photo = models.FileField(upload_to="rides/problems/%Y/%m/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.category} on {self.ride_id}"
