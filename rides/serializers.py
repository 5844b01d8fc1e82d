"""Rides API shapes. Money on the wire is {"amount": "1.50", "currency": "EUR"} (core.money)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import money
from fleet.models import Vehicle
from rides import selectors
from rides.models import ProblemReport, Reservation, Ride, RideState


class RideStartIn(serializers.Serializer[Any]):
    code = serializers.CharField(required=False, max_length=32, help_text="Vehicle code from the QR sticker")
    reservation_id = serializers.UUIDField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("code")) == bool(attrs.get("reservation_id")):
            raise serializers.ValidationError("Give exactly one of code or reservation_id.")
        return attrs


class RideEndIn(serializers.Serializer[Any]):
    photo = serializers.FileField(required=False, help_text="Parking photo (multipart); required in some cities")


class RideForceEndIn(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=300)


class RideRatingIn(serializers.Serializer[Any]):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(max_length=500, required=False, default="")


class RideProblemIn(serializers.Serializer[Any]):
    category = serializers.ChoiceField(choices=ProblemReport.Category.choices)
    description = serializers.CharField(max_length=1000, required=False, default="")
    photo = serializers.FileField(required=False)


class RideProblemOut(serializers.ModelSerializer[ProblemReport]):
    class Meta:
        model = ProblemReport
        fields = ["id", "category", "description", "created_at"]


class ReservationCreateIn(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=32)


class ReservationListIn(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=Reservation.State.choices, required=False,
                                    help_text="Only reservations in this state")


class ReservationVehicleOut(serializers.ModelSerializer[Vehicle]):
    type = serializers.CharField(source="vehicle_type.code", read_only=True, help_text="Vehicle type code")
    form_factor = serializers.CharField(source="vehicle_type.form_factor", read_only=True)

    class Meta:
        model = Vehicle
        fields = ["id", "code", "type", "form_factor", "lat", "lon", "battery_pct", "range_meters"]


# Why a closed reservation closed, by its state.
_RESERVATION_CLOSE_REASONS = {Reservation.State.CANCELLED: "rider_cancelled", Reservation.State.EXPIRED: "hold_expired",
                            Reservation.State.CONVERTED: "ride_started"}


class ReservationOut(serializers.ModelSerializer[Reservation]):
    vehicle_code = serializers.CharField(source="vehicle.code", read_only=True)
    state = serializers.CharField(read_only=True, help_text="active | cancelled | expired | converted")
    fee = serializers.SerializerMethodField()
    vehicle = serializers.SerializerMethodField(
        help_text="The reserved vehicle where it stands now, while the reservation is active (null once it closed: "
                  "the vehicle may be someone else's ride by then)")
    close_reason = serializers.SerializerMethodField(
        help_text="Why it closed: rider_cancelled | hold_expired (the hold time passed; the fee, if any, is "
                  "charged) | ride_started (ride_id); null while active")
    ride_id = serializers.SerializerMethodField(help_text="The ride started from it (converted), else null")

    class Meta:
        model = Reservation
        fields = ["id", "state", "vehicle_id", "vehicle_code", "vehicle", "created_at", "expires_at", "closed_at",
                  "close_reason", "ride_id", "fee"]

    def get_fee(self, obj: Reservation) -> dict[str, str]:
        return money(obj.fee, obj.currency)

    @extend_schema_field(ReservationVehicleOut(allow_null=True))
    def get_vehicle(self, obj: Reservation) -> dict[str, Any] | None:
        if obj.state != Reservation.State.ACTIVE:
            return None
        return dict(ReservationVehicleOut(obj.vehicle).data)

    @extend_schema_field(serializers.ChoiceField(choices=sorted(_RESERVATION_CLOSE_REASONS.values()), allow_null=True))
    def get_close_reason(self, obj: Reservation) -> str | None:
        return _RESERVATION_CLOSE_REASONS.get(Reservation.State(obj.state))

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_ride_id(self, obj: Reservation) -> str | None:
        if obj.state != Reservation.State.CONVERTED:
            return None  # never a query for the reverse relation of a reservation that started no ride
        ride = getattr(obj, "ride", None)
        return None if ride is None else str(ride.id)


class RideOut(serializers.ModelSerializer[Ride]):
    vehicle_code = serializers.CharField(source="vehicle.code", read_only=True)
    state = serializers.CharField(read_only=True, help_text="unlocking | active | paused | locking | ended | cancelled")
    fare_total = serializers.SerializerMethodField()

    class Meta:
        model = Ride
        fields = ["id", "state", "vehicle_id", "vehicle_code", "reservation_id", "created_at", "started_at",
                  "ended_at", "paused_seconds", "pause_count", "duration_s", "distance_m", "fare_total",
                  "end_reason", "cancel_reason"]

    def get_fare_total(self, obj: Ride) -> dict[str, str] | None:
        return None if obj.fare_total is None else money(obj.fare_total, obj.currency)


_COMMAND_STATE_HELP = ("State of the ride's {} command, null when none: queued | sending | sent (waiting for the "
                       "vehicle) | acked | failed | timed_out | expired | cancelled")


class RideStatusOut(RideOut):
    """The ride as an app polls it: no track, no query beyond the ride's own row (``selectors.ride_status_get``)."""

    vehicle_type = serializers.CharField(source="vehicle_type.code", read_only=True)
    paused = serializers.SerializerMethodField()
    unlock_command_state = serializers.CharField(read_only=True, allow_null=True, default=None,
                                                 help_text=_COMMAND_STATE_HELP.format("latest unlock (start or resume)"))
    lock_command_state = serializers.CharField(read_only=True, allow_null=True, default=None,
                                               help_text=_COMMAND_STATE_HELP.format("latest lock (pause or end)"))
    command_pending = serializers.SerializerMethodField(
        help_text="The ride waits for its vehicle (unlocking, locking, a pause's lock or a resume's unlock not "
                  "answered yet): the answer carries Retry-After; the ride socket tells the outcome at once")

    class Meta(RideOut.Meta):
        fields = [*RideOut.Meta.fields, "vehicle_type", "paused", "paused_at", "end_requested_at",
                  "unlock_command_state", "lock_command_state", "command_pending"]

    def get_paused(self, obj: Ride) -> bool:
        return obj.state == RideState.PAUSED

    def get_command_pending(self, obj: Ride) -> bool:
        return selectors.ride_command_pending(obj)


class RideDetailOut(RideStatusOut):
    receipt = serializers.JSONField(help_text="Itemised fare: lines, subtotal, discounts, total, VAT (null until ended)")
    trip = serializers.JSONField(help_text="MDS trip record")
    tariff = serializers.JSONField(help_text="The tariff snapshot the ride is billed by")

    class Meta(RideStatusOut.Meta):
        fields = [*RideStatusOut.Meta.fields, "receipt", "trip", "tariff"]


class RideTrackOut(serializers.Serializer[Any]):
    ride_id = serializers.UUIDField()
    points = serializers.IntegerField(help_text="Recorded fixes (before simplification)")
    track = serializers.JSONField(allow_null=True,
                                  help_text="GeoJSON LineString (simplified), null with fewer than 2 points")


class CurrentOut(serializers.Serializer[Any]):
    ride = RideStatusOut(allow_null=True, help_text="Your open ride (unlocking, active, paused or locking), or null")
    reservation = ReservationOut(allow_null=True, help_text="Your active reservation, or null")
