"""Ops pages: rides (read-only, force-end action), reservations, problem reports, per-city ride settings."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.auth import admin_user
from core.admin import ReadOnlyAdmin
from core.errors import DomainError
from rides import services
from rides.models import CityRideSettings, ProblemReport, Reservation, Ride


@admin.register(Ride)
class RideAdmin(ReadOnlyAdmin):
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
class ReservationAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = "No reservations: riders hold a vehicle from the app for a few minutes before unlocking it."
    list_display = ["id", "rider", "vehicle", "state", "created_at", "expires_at", "fee"]
    list_filter = ["state", "city"]
    search_fields = ["id", "rider__email", "vehicle__code"]


@admin.register(ProblemReport)
class ProblemReportAdmin(ReadOnlyAdmin):
    empty_help = "No problem reports: riders report a damaged or faulty vehicle from the app at the end of a ride."
    list_display = ["id", "ride", "category", "created_at"]
    list_filter = ["category"]
    search_fields = ["ride__vehicle__code", "ride__id"]


@admin.register(CityRideSettings)
class CityRideSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["city", "min_battery_pct", "reservation_hold_minutes", "parking_photo_required", "hold_amount"]
