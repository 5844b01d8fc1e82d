"""The vehicle page with everything about the vehicle: fleet's ``VehicleAdmin`` (fields, commands as actions,
events) plus the panels only a layer above fleet may compose (track and battery from telemetry, rides), registered
in its place. ``fleet.admin`` is imported first so that its registration exists to be replaced."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from console import vehicle_page
from console.support import admin as support_admin  # noqa: F401 - registers the user admin with support's search
from fleet.admin import vehicles as fleet_vehicles
from fleet.models import Vehicle


class VehiclePageAdmin(fleet_vehicles.VehicleAdmin):
    change_form_template = "console/vehicle_change_form.html"
    # Commands and events are the page's own panels (plain tables: the admin's read-only inline rendered each of its
    # cells through a form field, most of the page's time).
    inlines = []

    def get_urls(self) -> list[URLPattern]:
        return [path("<path:object_id>/commands/", self.admin_site.admin_view(self.commands_view),
                     name="fleet_vehicle_commands"), *super().get_urls()]

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Vehicle | None = None) -> HttpResponse:
        if obj is not None:
            context.update(vehicle_page.vehicle_panels(obj, track=request.GET.get("track")))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def commands_view(self, request: HttpRequest, object_id: str) -> TemplateResponse:
        """The commands panel alone, which the page reloads while a command waits for the vehicle's answer."""
        vehicle = self.get_object(request, object_id)
        if vehicle is None:
            raise Http404
        if not self.has_view_or_change_permission(request, vehicle):
            raise PermissionDenied
        return TemplateResponse(request, "console/vehicle_commands.html",
                                {"original": vehicle, **vehicle_page.command_panel(vehicle)})


admin.site.unregister(Vehicle)
admin.site.register(Vehicle, VehiclePageAdmin)
