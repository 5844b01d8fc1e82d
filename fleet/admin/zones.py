"""Zones admin: geometry edited as GeoJSON, validated on save, shown on a rendered SVG map; vehicle caps shown as
"vehicles now / cap"; the MDS Policy import (``fleet.admin.policy_import``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import CityTimeZoneAdmin
from fleet import geojson
from fleet.admin.policy_import import PolicyImportMixin
from fleet.admin.svg import zone_preview
from fleet.models import Zone
from fleet.models.zones import KIND_DEFAULTS
from fleet.selectors import zone_caps

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
        if kind == "cap" and data.get("vehicle_cap") is None:
            self.add_error("vehicle_cap", "A cap zone needs a vehicle cap.")
        for flag in _FLAGS:
            if data.get(flag) is None and kind in KIND_DEFAULTS:
                data[flag] = KIND_DEFAULTS[kind][flag]
        return data


class _ZoneChangeList(ChangeList):
    """Counts the vehicles in the page's capped zones in one go (``zone_caps``), not once per row."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        counts = zone_caps.zone_vehicle_counts(zones=list(self.result_list))
        for zone in self.result_list:
            zone.vehicles_now = counts.get(zone.id)


@admin.register(Zone)
class ZoneAdmin(PolicyImportMixin, CityTimeZoneAdmin):
    form = ZoneAdminForm
    change_list_template = "admin/fleet/zone/change_list.html"  # adds "Import MDS Policy"
    empty_help = ("No zones yet: add a city's operating area and its no-parking, slow and no-ride zones here "
                  "(GeoJSON), or import them from the city's MDS Policy.")
    list_display = ["name", "city", "kind", "vehicles_vs_cap", "priority", "active", "starts_at", "ends_at",
                    "maximum_speed_kph"]
    list_filter = ["city", "kind", "active"]
    search_fields = ["name"]
    list_select_related = ["city"]
    filter_horizontal = ["vehicle_types"]
    readonly_fields = ["map_preview", "vehicles_vs_cap", "mds_source", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["city", "name", "kind", "priority", "active", "starts_at", "ends_at", "vehicle_types"]}),
        ("GBFS rules", {"fields": ["ride_start_allowed", "ride_end_allowed", "ride_through_allowed",
                                   "maximum_speed_kph", "station_parking"]}),
        ("Compliance", {"fields": ["vehicle_cap", "vehicles_vs_cap"],
                        "description": "A city's cap on vehicles parked here (MDS count rule): shown, not enforced."}),
        ("Geometry", {"fields": ["map_preview", "geometry"],
                      "description": "GeoJSON Polygon or MultiPolygon, [lon, lat] in WGS84."}),
        ("Record", {"fields": ["mds_source", "created_at", "updated_at"]}),
    ]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _ZoneChangeList

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_import_mds_policy": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @admin.display(description="Vehicles / cap")
    def vehicles_vs_cap(self, obj: Zone) -> str:
        if obj.pk is None or obj.vehicle_cap is None:
            return "—"
        now = getattr(obj, "vehicles_now", None)
        if now is None:  # the change page: one zone
            now = zone_caps.zone_vehicle_counts(zones=[obj]).get(obj.id, 0)
        if now > obj.vehicle_cap:
            return format_html('<img src="{}" alt="over cap"> <strong>{} / {}: {} over the cap</strong>',
                               static("admin/img/icon-alert.svg"), now, obj.vehicle_cap, now - obj.vehicle_cap)
        return f"{now} / {obj.vehicle_cap}"

    @admin.display(description="Imported from MDS Policy")
    def mds_source(self, obj: Zone) -> str:
        if obj.mds_policy_id is None:
            return "— (made by hand)"
        return f"policy {obj.mds_policy_id}, rule {obj.mds_rule_id}, geography {obj.mds_geography_id}"

    @admin.display(description="Map")
    def map_preview(self, obj: Zone) -> SafeString:
        if obj.pk is None:
            return zone_preview(None, "")
        others = Zone.objects.filter(city_id=obj.city_id, active=True).exclude(pk=obj.pk).values_list("geometry", flat=True)
        return zone_preview(obj.geometry, obj.kind, list(others[:200]))

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("city").prefetch_related("vehicle_types")
