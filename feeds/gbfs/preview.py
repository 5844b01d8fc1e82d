"""The admin's GBFS preview of a zone being edited: what ``geofencing_zones.json`` would publish for it, in GBFS 3.0
and 2.3, from the change form's current (unsaved) data.

``fleet`` may not import ``feeds`` (the layers), so the zone page's script posts its form here. The form is the zone
admin's own (``ModelAdmin.get_form``: the same fields, widgets and validation as a save), so an invalid form answers
with the same errors the save would show, and the geometry's problem with its place for the map.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from feeds.gbfs import v2
from fleet import selectors as fleet_selectors
from fleet.models import Zone, ZoneKind


def _unpublished_reason(zone: Zone) -> str:
    if zone.kind == ZoneKind.CAP:
        return "A vehicle cap zone is for ops only: GBFS does not publish it."
    if not zone.active:
        return "The zone is inactive: GBFS does not publish it until it is active again."
    return ""


@require_POST
def zone_gbfs_preview(request: HttpRequest) -> JsonResponse:
    """POST the zone change form's fields (``multipart/form-data`` or urlencoded, with the CSRF token).

    200 ``{"valid": false, "errors": {field: [{message, code}]}, "geometry_problem": {message, location} | null}``
    or ``{"valid": true, "published": bool, "note": str, "v3": {...}, "v2": {...}, "warning": {message, location} |
    null}`` where ``v3``/``v2`` are the ``data`` of the two versions' ``geofencing_zones.json`` with only this zone
    (geometry left out: it is the map's), and ``warning`` says that the zone lies outside the city's operating area.
    """
    model_admin = admin.site.get_model_admin(Zone)
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = model_admin.get_form(request)(data=request.POST)
    if not form.is_valid():
        return JsonResponse({"valid": False, "errors": form.errors.get_json_data(),
                             "geometry_problem": getattr(form, "geometry_problem", None)})
    zone: Zone = form.save(commit=False)
    codes = [vehicle_type.code for vehicle_type in form.cleaned_data.get("vehicle_types") or []]
    feature = fleet_selectors.zone_gbfs_feature(zone, codes)
    document: dict[str, Any] = {
        "last_updated": timezone.now().isoformat(timespec="seconds"), "ttl": 60, "version": "3.0",
        "data": {"geofencing_zones": {"type": "FeatureCollection", "features": [feature]},
                 "global_rules": fleet_selectors.city_global_rules(city_id=zone.city_id)},
    }
    v2_data = v2.convert("geofencing_zones", document, zone.city.default_language)["data"]
    for data in (document["data"], v2_data):
        for item in data["geofencing_zones"]["features"]:
            item["geometry"] = {"type": item["geometry"]["type"], "coordinates": "(as on the map)"}
    reason = _unpublished_reason(zone)
    return JsonResponse({"valid": True, "published": not reason, "note": reason, "v3": document["data"],
                         "v2": v2_data, "warning": _outside_warning(zone)})


def _outside_warning(zone: Zone) -> dict[str, Any] | None:
    """A zone that meets none of the city's operating areas is allowed, but likely a mistake: said, and placed."""
    where = fleet_selectors.zone_outside_operating_area(city_id=zone.city_id, kind=zone.kind, geometry=zone.geometry)
    if where is None:
        return None
    return {"message": f"The zone lies wholly outside {zone.city.name}'s operating area: is it the right city, or "
                       "are latitude and longitude swapped?", "location": list(where)}
