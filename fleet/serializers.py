"""Fleet API shapes. Names are unique across the project: they become OpenAPI components."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from fleet.cityref import CityRefField
from fleet.models import (
    Command,
    CommandKind,
    OpsAlert,
    OpsAlertKind,
    OpsTask,
    OpsTaskKind,
    OpsTaskNote,
    OpsTaskPriority,
    OpsTaskState,
)


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


class CityRefOut(serializers.Serializer[Any]):
    """How a result names its city: both forms, so an app can follow ``/cities/<id or slug>``."""

    id = serializers.UUIDField(source="city_id")
    slug = serializers.CharField(source="city_slug")


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
    city = CityRefOut(source="*")

    def get_position(self, obj: Any) -> dict[str, Any]:
        return dict(VehiclePositionOut(obj).data)


class VehicleNearbyListOut(serializers.Serializer[Any]):
    results = VehicleNearbyOut(many=True)


class CityLinksOut(serializers.Serializer[Any]):
    zones = serializers.CharField(help_text="The city's active zones as GeoJSON")
    tariffs = serializers.CharField(help_text="The city's current tariffs")
    passes = serializers.CharField(help_text="Passes on sale in the city")
    gbfs = serializers.ListField(
        child=serializers.CharField(),
        help_text="GBFS 3.0 auto-discovery files (gbfs.json) of the city's published GBFS systems (one per brand)")


class CityOut(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    slug = serializers.SlugField(help_text="Stable public name, also the GBFS system_id")
    name = serializers.CharField()
    currency = serializers.CharField(help_text="ISO-4217, e.g. EUR")
    timezone = serializers.CharField(help_text="IANA time zone, e.g. Europe/Berlin")
    bounding_box = serializers.ListField(
        child=serializers.FloatField(), min_length=4, max_length=4, allow_null=True,
        help_text="[west, south, east, north] in degrees (GeoJSON bbox order) of the operating area, else of the "
                  "city's zones; null for a city without zones")
    links = CityLinksOut()


class CityListOut(serializers.Serializer[Any]):
    results = CityOut(many=True)


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
    city = CityRefField(required=False)
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
    city = CityRefField(required=False)
    kind = serializers.ChoiceField(choices=OpsTaskKind.choices, required=False)
    state = serializers.ChoiceField(choices=["active", "open", "assigned", "done", "not_done", "cancelled", "all"],
                                    default="active", help_text="active = open or assigned")
    vehicle = serializers.UUIDField(required=False)
    mine = serializers.BooleanField(default=False, help_text="Only tasks assigned to you")
    lat = serializers.FloatField(required=False, help_text="Your position: tasks of one priority nearest first")
    lon = serializers.FloatField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("lat" in attrs) != ("lon" in attrs):
            raise serializers.ValidationError("Give both lat and lon, or neither.")
        return attrs


class OpsTaskOut(serializers.ModelSerializer[OpsTask]):
    vehicle_code = serializers.CharField(source="vehicle.code")
    vehicle_status = serializers.CharField(source="vehicle.status")
    vehicle_battery_pct = serializers.IntegerField(source="vehicle.battery_pct", allow_null=True)
    vehicle_lat = serializers.FloatField(source="vehicle.lat", allow_null=True)
    vehicle_lon = serializers.FloatField(source="vehicle.lon", allow_null=True)
    distance_m = serializers.SerializerMethodField(help_text="Metres from lat/lon when given, else null")

    class Meta:
        model = OpsTask
        fields = ["id", "vehicle", "vehicle_code", "vehicle_status", "vehicle_battery_pct", "vehicle_lat",
                  "vehicle_lon", "city", "kind", "priority", "state", "reason", "condition", "condition_cleared_at",
                  "assignee", "created_at", "closed_at", "closed_by", "outcome", "distance_m"]

    def get_distance_m(self, obj: OpsTask) -> float | None:
        distance = getattr(obj, "distance_m", None)
        return round(distance, 1) if distance is not None else None


class OpsTaskCloseIn(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=[OpsTaskState.DONE, OpsTaskState.NOT_DONE, OpsTaskState.CANCELLED],
                                      default=OpsTaskState.DONE)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                 help_text="What you found or did (required for not_done)")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["outcome"] == OpsTaskState.NOT_DONE and not attrs.get("note", "").strip():
            raise serializers.ValidationError({"note": "Say why the task was not done."})
        return attrs


class OpsTaskCreateIn(serializers.Serializer[Any]):
    vehicle = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=OpsTaskKind.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    priority = serializers.ChoiceField(choices=OpsTaskPriority.choices, required=False,
                                       help_text="1 urgent ... 4 low; default by kind")


class OpsTaskUpdateIn(serializers.Serializer[Any]):
    priority = serializers.ChoiceField(choices=OpsTaskPriority.choices, help_text="1 urgent ... 4 low")


class OpsTaskAssignIn(serializers.Serializer[Any]):
    assignee = serializers.UUIDField(required=False, help_text="A staff member who may work on tasks; default you")


class OpsTaskNoteIn(serializers.Serializer[Any]):
    text = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    photo = serializers.FileField(required=False, help_text="JPEG, PNG or WebP (multipart), up to UPLOAD_MAX_BYTES")


class OpsTaskNoteOut(serializers.ModelSerializer[OpsTaskNote]):
    author_name = serializers.CharField(source="author.get_username")
    photo_url = serializers.SerializerMethodField()

    class Meta:
        model = OpsTaskNote
        fields = ["id", "task", "author", "author_name", "text", "photo_url", "created_at"]

    def get_photo_url(self, obj: OpsTaskNote) -> str | None:
        return obj.photo.url if obj.photo else None
