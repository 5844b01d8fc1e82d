"""Rides API shapes. Money on the wire is {"amount": "1.50", "currency": "EUR"} (core.money)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.serializers.fields import BillingMoney
from core.money import money
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


class RideRatingOut(serializers.Serializer[Any]):
    stars = serializers.IntegerField()
    comment = serializers.CharField()


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


class ReservationOut(serializers.ModelSerializer[Reservation]):
    vehicle_code = serializers.CharField(source="vehicle.code", read_only=True)
    state = serializers.ChoiceField(choices=Reservation.State.choices, read_only=True)
    fee = serializers.SerializerMethodField()

    class Meta:
        model = Reservation
        fields = ["id", "state", "vehicle_id", "vehicle_code", "created_at", "expires_at", "closed_at", "fee"]

    @extend_schema_field(BillingMoney)
    def get_fee(self, obj: Reservation) -> dict[str, str]:
        return money(obj.fee, obj.currency)


class RideOut(serializers.ModelSerializer[Ride]):
    vehicle_code = serializers.CharField(source="vehicle.code", read_only=True)
    state = serializers.ChoiceField(choices=RideState.choices, read_only=True,
                                    help_text="unlocking until the vehicle confirms the unlock, locking until it "
                                              "confirms the lock")
    fare_total = serializers.SerializerMethodField()

    class Meta:
        model = Ride
        fields = ["id", "state", "vehicle_id", "vehicle_code", "reservation_id", "created_at", "started_at",
                  "ended_at", "paused_seconds", "pause_count", "duration_s", "distance_m", "fare_total",
                  "end_reason", "cancel_reason"]

    @extend_schema_field(BillingMoney(allow_null=True))
    def get_fare_total(self, obj: Ride) -> dict[str, str] | None:
        return None if obj.fare_total is None else money(obj.fare_total, obj.currency)


class RideDetailOut(RideOut):
    track = serializers.JSONField(help_text="GeoJSON LineString (simplified), null with fewer than 2 points")
    receipt = serializers.JSONField(help_text="Itemised fare: lines, subtotal, discounts, total, VAT")
    trip = serializers.JSONField(help_text="MDS trip record")
    tariff = serializers.JSONField()

    class Meta(RideOut.Meta):
        fields = [*RideOut.Meta.fields, "track", "receipt", "trip", "tariff"]
