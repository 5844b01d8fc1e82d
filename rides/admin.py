"""Ops pages: rides (read-only, force-end action), reservations, problem reports, per-city ride settings.

A ride's page shows its track on a map (start, end, where it entered or left a zone), the fare as a table (lines,
VAT, discounts, pass minutes), its payments and refunds from billing, and a link to the rider's receipt; its times
are in the ride's city's zone (``core.admin.CityTimeZoneAdmin``)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from accounts.auth import admin_user
from core.admin import CityTimeZoneAdmin, ReadOnlyAdmin
from core.errors import DomainError
from fleet.admin.scope import CityScopedAdmin
from rides import ride_page, services
from rides.models import CityRideSettings, ProblemReport, Reservation, Ride


@admin.register(Ride)
class RideAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = ("No rides: a ride appears when a rider unlocks a vehicle in the app and stays here for good "
                  "(read-only; an open ride can be force-ended with the action).")
    list_display = ["id", "rider", "vehicle", "state", "created_at", "ended_at", "fare_total", "end_reason"]
    list_filter = ["state", "city", "end_reason"]
    search_fields = ["id", "rider__email", "vehicle__code"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]  # newest first (index ride_created); the id is a random UUID
    list_select_related = ["rider", "vehicle"]
    actions = ["force_end"]
    change_form_template = "admin/rides/ride/change_form.html"
    fieldsets = [
        (None, {"fields": ["id", "state", "rider", "vehicle", "vehicle_type", "city", "reservation"]}),
        ("Times", {"fields": ["created_at", "started_at", "paused_at", "end_requested_at", "ended_at",
                              "duration_s", "paused_seconds", "pause_count"]}),
        ("Trip", {"fields": ["distance_m", "start_lat", "start_lon", "end_lat", "end_lon", "end_reason", "end_note",
                             "ended_by", "cancel_reason", "parking_photo", "unlock_command_id", "lock_command_id"]}),
        ("Tariff at start", {"fields": ["currency", "tariff"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ride]:
        return super().get_queryset(request).select_related("rider", "vehicle", "vehicle_type", "city")

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Ride | None = None) -> HttpResponse:
        if obj is not None:
            context.update(self.ride_panels(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def ride_panels(self, request: HttpRequest, ride: Ride) -> dict[str, Any]:
        return ride_page.ride_panels(ride, staff=request.user)

    @admin.action(description="Force-end the selected open rides (reason: ended by ops in admin)",
                  permissions=["force_end"])
    def force_end(self, request: HttpRequest, queryset: QuerySet[Ride]) -> None:
        ended = 0
        for ride in queryset:
            try:
                services.ride_force_end(ride_id=ride.id, actor=admin_user(request), reason="ended by ops in admin")
                ended += 1
            except DomainError as exc:
                self.message_user(request, f"{ride.id}: {exc}", messages.WARNING)
        self.message_user(request, f"{ended} ride(s) ended.")

    def has_force_end_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("rides.force_end_ride")


@admin.register(Reservation)
class ReservationAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = "No reservations: riders hold a vehicle from the app for a few minutes before unlocking it."
    list_display = ["id", "rider", "vehicle", "state", "created_at", "expires_at", "fee"]
    list_filter = ["state", "city"]
    search_fields = ["id", "rider__email", "vehicle__code"]


@admin.register(ProblemReport)
class ProblemReportAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    city_field = "ride__city"
    empty_help = "No problem reports: riders report a damaged or faulty vehicle from the app at the end of a ride."
    list_display = ["id", "ride", "category", "created_at"]
    list_filter = ["category"]
    search_fields = ["ride__vehicle__code", "ride__id"]
    city_time_zone_path = "ride__city__timezone"


@admin.register(CityRideSettings)
class CityRideSettingsAdmin(CityScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["city", "min_battery_pct", "reservation_hold_minutes", "parking_photo_required", "hold_amount"]
