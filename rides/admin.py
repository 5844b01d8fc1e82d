"""Ops pages: rides (read-only, force-end action), reservations, problem reports, per-city ride settings.

A ride's page shows its track on a map (start, end, where it entered or left a zone), the fare as a table (lines,
VAT, discounts, pass minutes), its payments and refunds from billing, and a link to the rider's receipt; its times
are in the ride's city's zone (``core.admin.CityTimeZoneAdmin``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from accounts.auth import admin_user
from billing import selectors as billing_selectors
from core.admin import CityTimeZoneAdmin, ReadOnlyAdmin
from core.errors import DomainError
from fleet.models import ZoneKind
from rides import selectors, services
from rides.models import CityRideSettings, ProblemReport, Reservation, Ride

RECEIPT_PERMISSION = "billing.view_ridebilling"  # what the receipt view itself asks of staff (billing.views.ops)


def _when(at: Any) -> str:
    return f"{timezone.localtime(at):%H:%M:%S}"


def _kind(kind: str) -> str:
    return str(ZoneKind(kind).label).lower() if kind in ZoneKind.values else kind


def ride_map(ride: Ride) -> tuple[dict[str, Any], list[selectors.ZoneCrossing], list[str]]:
    """What the ride page's map draws (core/static/core/object_map.js): the thinned track, start and end markers,
    a marker per zone crossing and the zones concerned; with the crossings and the zones the ride started in."""
    points = selectors.ride_track_points(ride=ride)
    started_in, crossings = selectors.ride_zone_crossings(ride=ride, points=points)
    markers: list[dict[str, Any]] = []
    start = (ride.start_lat, ride.start_lon) if ride.start_lat is not None else \
        ((points[0].lat, points[0].lon) if points else None)
    end = (ride.end_lat, ride.end_lon) if ride.end_lat is not None else \
        ((points[-1].lat, points[-1].lon) if points and not ride.is_open else None)
    if start is not None:
        markers.append({"lat": start[0], "lon": start[1], "kind": "start",
                        "label": f"Start {_when(ride.started_at or ride.created_at)}"})
    for c in crossings:
        markers.append({"lat": c.lat, "lon": c.lon, "kind": "enter" if c.entered else "leave",
                        "label": f"{'Entered' if c.entered else 'Left'} {c.zone_name} ({_kind(c.zone_kind)}) "
                                 f"{_when(c.at)}"})
    if end is not None:
        markers.append({"lat": end[0], "lon": end[1], "kind": "end",
                        "label": f"End {_when(ride.ended_at)}" if ride.ended_at else "End"})
    zone_ids = list(dict.fromkeys([*started_in, *(c.zone_id for c in crossings)]))
    data = {"track": [[round(p.lat, 6), round(p.lon, 6)] for p in points], "markers": markers,
            "zones": selectors.zones_geojson(city_id=ride.city_id, zone_ids=zone_ids)}
    return data, crossings, started_in


def fare_table(fare: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored fare (``fares.Fare.to_json()``) as rows for the page: amounts as Decimals, discounts negative."""
    if not fare:
        return None
    return {
        "currency": fare["currency"],
        "lines": [{**line, "quantity": Decimal(line["quantity"]), "amount": Decimal(line["amount"]),
                   "unit_price": Decimal(line["unit_price"]) if line["unit_price"] is not None else None}
                  for line in fare["lines"]],
        "subtotal": Decimal(fare["subtotal"]), "discounts": Decimal(fare["discounts"]),
        "total": Decimal(fare["total"]), "vat_pct": Decimal(fare["vat_rate"]) * 100,
        "vat_amount": Decimal(fare["vat_amount"]), "net_amount": Decimal(fare["net_amount"]),
        "capped": fare["capped"], "pass_minutes": fare["minutes_from_pack_used"],
    }


@admin.register(Ride)
class RideAdmin(CityTimeZoneAdmin, ReadOnlyAdmin):
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
        map_data, crossings, started_in = ride_map(ride)
        billing = billing_selectors.ride_billing_get(ride_id=ride.id)
        charged = billing is not None and billing.status == billing.Status.CHARGED
        receipt = reverse("billing-ride-receipt-html", args=[ride.id]) \
            if charged and request.user.has_perm(RECEIPT_PERMISSION) else None
        return {
            "ride_map": map_data, "crossings": [(c, _kind(c.zone_kind)) for c in crossings],
            "started_in": [f["properties"]["name"] for f in map_data["zones"]["features"]
                           if f["properties"]["id"] in started_in],
            "fare": fare_table(billing.fare if billing is not None and billing.fare else ride.fare),
            "billing": billing, "payments": billing_selectors.ride_payments(ride_id=ride.id),
            "refunds": billing_selectors.ride_refunds(ride_id=ride.id), "receipt_url": receipt,
            "may_read_payments": request.user.has_perm("billing.view_payment"),
        }

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
class ReservationAdmin(CityTimeZoneAdmin, ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = "No reservations: riders hold a vehicle from the app for a few minutes before unlocking it."
    list_display = ["id", "rider", "vehicle", "state", "created_at", "expires_at", "fee"]
    list_filter = ["state", "city"]
    search_fields = ["id", "rider__email", "vehicle__code"]


@admin.register(ProblemReport)
class ProblemReportAdmin(CityTimeZoneAdmin, ReadOnlyAdmin):
    empty_help = "No problem reports: riders report a damaged or faulty vehicle from the app at the end of a ride."
    list_display = ["id", "ride", "category", "created_at"]
    list_filter = ["category"]
    search_fields = ["ride__vehicle__code", "ride__id"]
    city_time_zone_path = "ride__city__timezone"


@admin.register(CityRideSettings)
class CityRideSettingsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["city", "min_battery_pct", "reservation_hold_minutes", "parking_photo_required", "hold_amount"]
