"""Zones admin: geometry edited as GeoJSON, validated on save, shown on a rendered SVG map."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString

from fleet import geojson
from fleet.admin.svg import zone_preview
from fleet.models import Zone
from fleet.models.zones import KIND_DEFAULTS

_FLAGS = ("ride_start_allowed", "ride_end_allowed", "ride_through_allowed")


def _flag_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, required=False, empty_value=None, coerce=lambda value: value == "True",
        choices=[("", "Default of the kind"), ("True", "Yes"), ("False", "No")],
    )


class ZoneAdminForm(forms.ModelForm):
    """The three GBFS flags may be left to the kind's default (a no-parking zone forbids ending rides...),
    so that a zone added by hand gets the same rules as one imported from a file."""

    ride_start_allowed = _flag_field("Ride start allowed")
    ride_end_allowed = _flag_field("Ride end allowed")
    ride_through_allowed = _flag_field("Ride through allowed")

    class Meta:
        model = Zone
        fields = "__all__"  # noqa: DJ007 - every editable field of a zone is meant for ops

    def clean_geometry(self) -> dict[str, Any]:
        try:
            return geojson.validate_multipolygon(self.cleaned_data.get("geometry"))
        except geojson.GeometryInvalid as exc:
            raise forms.ValidationError(exc.detail_message, code=exc.code) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == "slow" and data.get("maximum_speed_kph") is None:
            self.add_error("maximum_speed_kph", "A slow zone needs a maximum speed.")
        for flag in _FLAGS:
            if data.get(flag) is None and kind in KIND_DEFAULTS:
                data[flag] = KIND_DEFAULTS[kind][flag]
        return data


@admin.register(Zone)
class ZoneAdmin(admin.ModelAdmin):
    form = ZoneAdminForm
    list_display = ["name", "city", "kind", "priority", "active", "starts_at", "ends_at", "maximum_speed_kph"]
    list_filter = ["city", "kind", "active"]
    search_fields = ["name"]
    list_select_related = ["city"]
    filter_horizontal = ["vehicle_types"]
    readonly_fields = ["map_preview", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["city", "name", "kind", "priority", "active", "starts_at", "ends_at", "vehicle_types"]}),
        ("GBFS rules", {"fields": ["ride_start_allowed", "ride_end_allowed", "ride_through_allowed",
                                   "maximum_speed_kph", "station_parking"]}),
        ("Geometry", {"fields": ["map_preview", "geometry"],
                      "description": "GeoJSON Polygon or MultiPolygon, [lon, lat] in WGS84."}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Map")
    def map_preview(self, obj: Zone) -> SafeString:
        if obj.pk is None:
            return zone_preview(None, "")
        others = Zone.objects.filter(city_id=obj.city_id, active=True).exclude(pk=obj.pk).values_list("geometry", flat=True)
        return zone_preview(obj.geometry, obj.kind, list(others[:200]))

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("city")
