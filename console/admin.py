"""The vehicle page with everything about the vehicle: fleet's ``VehicleAdmin`` (fields, commands as actions,
events) plus the panels only a layer above fleet may compose (track and battery from telemetry, rides), registered
in its place. ``fleet.admin`` is imported first so that its registration exists to be replaced."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from console import vehicle_page
from fleet.admin import vehicles as fleet_vehicles
from fleet.models import Vehicle


class VehiclePageAdmin(fleet_vehicles.VehicleAdmin):
    change_form_template = "console/vehicle_change_form.html"

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Vehicle | None = None) -> HttpResponse:
        if obj is not None:
            context.update(vehicle_page.vehicle_panels(obj, track=request.GET.get("track")))
        return super().render_change_form(request, context, add, change, form_url, obj)


admin.site.unregister(Vehicle)
admin.site.register(Vehicle, VehiclePageAdmin)
