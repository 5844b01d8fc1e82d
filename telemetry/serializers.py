"""OpenAPI shapes of the telemetry edge. The view does not run these (the hot path validates by hand,
telemetry.validation); they document the wire format for clients."""

from __future__ import annotations

from rest_framework import serializers


class TelemetryAckIn(serializers.Serializer):
    correlation_id = serializers.UUIDField(help_text="The command's correlation id")
    ok = serializers.BooleanField()
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


class TelemetryMessageIn(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0, help_text="Per-vehicle counter; a repeated seq is a duplicate")
    ts = serializers.CharField(help_text="Device time: epoch milliseconds (integer) or ISO 8601 with zone")
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    acc = serializers.FloatField(required=False, min_value=0, help_text="Position accuracy, metres")
    heading = serializers.FloatField(required=False, min_value=0, max_value=360)
    speed_kph = serializers.FloatField(required=False, min_value=0, max_value=250)
    battery_pct = serializers.IntegerField(required=False, min_value=0, max_value=100)
    locked = serializers.BooleanField(required=False)
    odometer_m = serializers.IntegerField(required=False, min_value=0)
    alarms = serializers.ListField(child=serializers.ChoiceField(choices=["tipped_over", "tamper"]), required=False)
    ack = TelemetryAckIn(required=False)


class TelemetryErrorOut(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the message in the request (0 for a single one)")
    code = serializers.CharField()
    message = serializers.CharField()


class TelemetryAcceptedOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    errors = TelemetryErrorOut(many=True)  # type: ignore[assignment]  # the field, not Serializer.errors
