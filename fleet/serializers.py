"""Fleet API shapes. Names are unique across the project: they become OpenAPI components."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fleet.models import Command, CommandKind, OpsAlert, OpsAlertKind, OpsTask, OpsTaskKind, OpsTaskState


class VehicleNearbyIn(serializers.Serializer[Any]):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    radius = serializers.FloatField(required=False, help_text="Metres; default 500, at most FLEET_NEARBY_MAX_RADIUS_M")
    type = serializers.SlugField(required=False, help_text="Vehicle type code")
    min_battery = serializers.IntegerField(required=False, min_value=0, max_value=100)


class VehiclePositionOut(serializers.Serializer[Any]):
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    reported_at = serializers.DateTimeField(source="position_at")


class VehicleNearbyOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    code = serializers.CharField()
    vehicle_type = serializers.CharField(source="vehicle_type_code")
    form_factor = serializers.CharField()
    battery_pct = serializers.IntegerField(allow_null=True)
    range_meters = serializers.IntegerField(allow_null=True)
    position = serializers.SerializerMethodField()
    distance_m = serializers.FloatField()
    pricing_plan_id = serializers.CharField(allow_null=True)

    def get_position(self, obj: Any) -> dict[str, Any]:
        return dict(VehiclePositionOut(obj).data)


class VehicleNearbyListOut(serializers.Serializer[Any]):
    results = VehicleNearbyOut(many=True)


class ZonesAtPointIn(serializers.Serializer[Any]):
    lat = serializers.FloatField()
    lon = serializers.FloatField()


class ZoneFeatureCollectionOut(serializers.Serializer[Any]):
    """GeoJSON FeatureCollection; each Feature is a GBFS 3.0 geofencing zone plus ``id``, ``kind``, ``priority``."""

    type = serializers.CharField(default="FeatureCollection")
    features = serializers.ListField(child=serializers.JSONField())


class VehicleCommandIn(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=CommandKind.choices)
    params = serializers.DictField(required=False, help_text='Only set_speed_limit: {"max_speed_kph": 0..100}')


class VehicleCommandOut(serializers.ModelSerializer[Command]):
    class Meta:
        model = Command
        fields = ["id", "vehicle", "kind", "params", "state", "idempotency_key", "correlation_id", "attempts",
                  "created_at", "expires_at", "sent_at", "ack_deadline", "acked_at", "finished_at", "failure_reason"]
        read_only_fields = fields


class OpsAlertListIn(serializers.Serializer[Any]):
    city = serializers.UUIDField(required=False)
    kind = serializers.ChoiceField(choices=OpsAlertKind.choices, required=False)
    state = serializers.ChoiceField(choices=["open", "resolved", "all"], default="open")
    vehicle = serializers.UUIDField(required=False)


class OpsAlertOut(serializers.ModelSerializer[OpsAlert]):
    vehicle_code = serializers.CharField(source="vehicle.code")

    class Meta:
        model = OpsAlert
        fields = ["id", "vehicle", "vehicle_code", "city", "kind", "severity", "message", "data", "opened_at",
                  "resolved_at", "resolved_by", "resolved_by_system", "resolution"]


class OpsTaskListIn(serializers.Serializer[Any]):
    city = serializers.UUIDField(required=False)
    kind = serializers.ChoiceField(choices=OpsTaskKind.choices, required=False)
    state = serializers.ChoiceField(choices=["active", "open", "assigned", "done", "cancelled", "all"],
                                    default="active", help_text="active = open or assigned")
    vehicle = serializers.UUIDField(required=False)
    mine = serializers.BooleanField(default=False, help_text="Only tasks assigned to you")


class OpsTaskOut(serializers.ModelSerializer[OpsTask]):
    vehicle_code = serializers.CharField(source="vehicle.code")

    class Meta:
        model = OpsTask
        fields = ["id", "vehicle", "vehicle_code", "city", "kind", "state", "reason", "assignee", "created_at",
                  "closed_at", "closed_by"]


class OpsTaskCloseIn(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=[OpsTaskState.DONE, OpsTaskState.CANCELLED], default=OpsTaskState.DONE)
