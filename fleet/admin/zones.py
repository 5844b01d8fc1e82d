"""Zones admin: the polygon(s) drawn and edited on a map (Leaflet + Geoman, ``fleet/static/fleet/zone_map.js``) with
the GeoJSON field as the form's source of truth, geometry errors shown on the map where they lie, schedule and
per-type rules as form fields, a live preview of the GBFS rules (served by ``feeds``), a versioned history
(django-simple-history); vehicle caps shown as "vehicles now / cap"; the MDS Policy import
(``fleet.admin.policy_import``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.templatetags.static import static
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from core.admin import CityTimeZoneAdmin
from fleet import geojson, selectors
from fleet.admin.policy_import import PolicyImportMixin
from fleet.admin.scope import CityScopedAdmin
from fleet.models import Zone
from fleet.models.zones import KIND_DEFAULTS
from fleet.selectors import zone_caps

_FLAGS = ("ride_start_allowed", "ride_end_allowed", "ride_through_allowed")
# Other zones drawn faintly around the edited one: enough for a city, bounded for a page.
CONTEXT_ZONES_MAX = 500


def _flag_field(label: str) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label, required=False, empty_value=None, coerce=lambda value: value == "True",
        choices=[("", "Default of the kind"), ("True", "Yes"), ("False", "No")],
    )


class ZoneAdminForm(forms.ModelForm):
    """The three GBFS flags may be left to the kind's default (a no-parking zone forbids ending rides...),
    so that a zone added by hand gets the same rules as one imported from a file.

    A refused geometry leaves ``geometry_problem`` (message and, where it can be placed, ``location`` [lon, lat])
    for the map; the GBFS preview endpoint binds this same form to unsaved data."""

    ride_start_allowed = _flag_field("Ride start allowed")
    ride_end_allowed = _flag_field("Ride end allowed")
    ride_through_allowed = _flag_field("Ride through allowed")

    class Meta:
        model = Zone
        fields = "__all__"  # noqa: DJ007 - every editable field of a zone is meant for ops
        widgets = {"geometry": forms.Textarea(attrs={"rows": 4, "class": "fw-zone-geojson", "spellcheck": "false"})}
        help_texts = {
            "geometry": "Drawn on the map above, or pasted here: a GeoJSON Polygon or MultiPolygon, [lon, lat] in "
                        "WGS84. The map and this field follow each other.",
        }

    geometry_problem: dict[str, Any] | None = None

    def clean_geometry(self) -> dict[str, Any]:
        raw = self.cleaned_data.get("geometry")
        try:
            return geojson.validate_multipolygon(raw)
        except geojson.GeometryInvalid as exc:
            location = geojson.error_location(raw, exc)
            self.geometry_problem = {"message": exc.detail_message, "location": list(location) if location else None}
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


def context_zones(*, exclude: Zone | None, user: Any = None) -> dict[str, Any]:
    """The active zones (but the edited one) as a FeatureCollection for the map: name, kind and city only; of the
    user's cities when a user is given."""
    zones = Zone.objects.filter(active=True).order_by("city_id", "priority", "created_at")
    if user is not None:
        zones = selectors.staff_scope(zones, user=user, path="city")
    if exclude is not None and exclude.pk is not None:
        zones = zones.exclude(pk=exclude.pk)
    features = [
        {"type": "Feature", "geometry": geometry, "properties": {"name": name, "kind": kind, "city": str(city_id)}}
        for name, kind, city_id, geometry in zones.values_list("name", "kind", "city_id", "geometry")[:CONTEXT_ZONES_MAX]
    ]
    return {"type": "FeatureCollection", "features": features}


@admin.register(Zone)
class ZoneAdmin(CityScopedAdmin, PolicyImportMixin, CityTimeZoneAdmin, SimpleHistoryAdmin):
    form = ZoneAdminForm
    change_list_template = "admin/fleet/zone/change_list.html"  # adds "Import MDS Policy"
    change_form_template = "admin/fleet/zone/change_form.html"  # the map, the GBFS preview
    object_history_form_template = "admin/fleet/zone/object_history_form.html"  # a version, on the map
    empty_help = ("No zones yet: add a city's operating area and its no-parking, slow and no-ride zones here "
                  "(drawn on a map), or import them from the city's MDS Policy.")
    list_display = ["name", "city", "kind", "vehicles_vs_cap", "priority", "active", "starts_at", "ends_at",
                    "maximum_speed_kph"]
    list_filter = ["city", "kind", "active"]
    search_fields = ["name"]
    list_select_related = ["city"]
    filter_horizontal = ["vehicle_types"]
    readonly_fields = ["map_editor", "gbfs_preview", "vehicles_vs_cap", "mds_source", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["city", "name", "kind", "priority", "active"]}),
        ("Geometry", {"fields": ["map_editor", "geometry"],
                      "description": "Draw the zone with the tools on the map (polygon, rectangle; edit, drag, cut a "
                                     "hole, delete); the city's other zones show faintly for context."}),
        ("Schedule", {"fields": ["starts_at", "ends_at"],
                      "description": "Leave both empty for a zone that always applies. Times in the zone shown at the "
                                     "top right; the zone applies from the start until (not including) the end."}),
        ("Rules (GBFS)", {"fields": ["vehicle_types", "ride_start_allowed", "ride_end_allowed",
                                     "ride_through_allowed", "maximum_speed_kph", "station_parking", "gbfs_preview"],
                          "description": "The rules apply to the vehicle types chosen here (none chosen: every type); "
                                         "other types ride through the zone as if it were not there."}),
        ("Compliance", {"fields": ["vehicle_cap", "vehicles_vs_cap"],
                        "description": "A city's cap on vehicles parked here (MDS count rule): shown, not enforced."}),
        ("Record", {"fields": ["mds_source", "created_at", "updated_at"]}),
    ]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _ZoneChangeList

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_import_mds_policy": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra)

    def history_form_view(self, request: HttpRequest, object_id: str, version_id: str,
                          extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # django-simple-history reads the version without get_queryset: a zone of another city is a 404 here too.
        self.object_visible_or_404(request, object_id)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_form(self, request: HttpRequest, obj: Zone | None = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        match = request.resolver_match
        if match is None or match.url_name != "fleet_zone_simple_history":
            return form
        # A version's page (django-simple-history's revert form) starts from the version's vehicle types, which
        # its instance cannot carry (a many-to-many is read from the current rows).
        version = get_object_or_404(Zone.history.model, history_id=match.args[1], id=match.args[0])
        types = [row.vehicletype_id for row in version.vehicle_types.all()]

        class VersionForm(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **form_kwargs: Any) -> None:
                super().__init__(*args, **form_kwargs)
                self.initial["vehicle_types"] = types

        return VersionForm

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Zone | None = None) -> Any:
        form = context["adminform"].form
        context["zone_map"] = {
            "context": context_zones(exclude=obj, user=request.user),
            "problem": getattr(form, "geometry_problem", None),
            "editable": self.has_change_permission(request, obj) if obj is not None else self.has_add_permission(request),
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    # One save is one version: the zone row and its vehicle types are saved without a history record (the types
    # would otherwise add one version per add and remove), then recorded once, with the user, as they now are.
    # ``form.save_m2m`` is wrapped (not ``save_related``) because django-simple-history's "revert" view calls it
    # directly after ``save_model``.
    def save_model(self, request: HttpRequest, obj: Zone, form: forms.ModelForm, change: bool) -> None:
        obj.skip_history_when_saving = True  # type: ignore[attr-defined]  # django-simple-history's switch
        try:
            super().save_model(request, obj, form, change)  # sets obj._history_user
        finally:
            del obj.skip_history_when_saving  # type: ignore[attr-defined]
        save_m2m = form.save_m2m

        def save_m2m_then_record() -> None:
            obj.skip_history_when_saving = True  # type: ignore[attr-defined]
            try:
                save_m2m()
            finally:
                del obj.skip_history_when_saving  # type: ignore[attr-defined]
            # The zone's post_save once more, now that its types are saved: django-simple-history records the
            # version (created or changed, as the save was); the geofence receiver bumps the city's zones again.
            post_save.send(sender=Zone, instance=obj, created=not change, update_fields=None, raw=False,
                           using=obj._state.db)

        form.save_m2m = save_m2m_then_record  # type: ignore[method-assign]

    @admin.display(description="Map")
    def map_editor(self, obj: Zone) -> str:
        # Filled by zone_map.js from the data of the change form template (json_script; no inline script).
        return format_html(
            '<div id="zone-map-problem" class="fw-zone-problem" role="alert" hidden></div>'
            '<div id="zone-map" class="fw-zone-map" aria-label="{}"></div>'
            '<p class="help fw-zone-map-help">{}</p>',
            "Map of the zone", "Without JavaScript, edit the GeoJSON below.",
        )

    @admin.display(description="GBFS preview")
    def gbfs_preview(self, obj: Zone) -> str:
        return format_html(
            '<div id="zone-gbfs-preview" class="fw-gbfs-preview" aria-live="polite">{}</div>',
            "The rules this zone publishes in GBFS appear here as you edit.",
        )

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

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("city").prefetch_related("vehicle_types")
