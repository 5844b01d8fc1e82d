"""Vehicles admin: list with ops filters, search by code/IMEI, bulk actions through the services, and the
vehicle page with its event log and commands (read-only). Status is never edited directly: only the actions
(which go through ``vehicle_transition``) change it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import ReadOnlyAdmin, json_field_display
from core.admin_scale import ScaleAdmin
from core.errors import DomainError
from fleet import services
from fleet.admin.filters import BatteryBelowFilter, LastSeenOlderThanFilter
from fleet.models import Command, CommandKind, Vehicle, VehicleEvent

INLINE_ROWS = 30


class RecentFirstFormSet(BaseInlineFormSet):
    """Only the newest rows: a vehicle collects thousands of events; the full history is one link away."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:INLINE_ROWS]
        return self._recent


class VehicleEventInline(admin.TabularInline):
    model = VehicleEvent
    formset = RecentFirstFormSet
    verbose_name_plural = f"event log (newest {INLINE_ROWS}; all: the history link above)"
    fields = ("timestamp", "vehicle_state", "event_types", "status", "applied", "battery_pct", "trip_id",
              "actor_kind", "actor", "lat", "lon")
    readonly_fields = fields
    ordering = ["-timestamp"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[VehicleEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CommandInline(admin.TabularInline):
    model = Command
    formset = RecentFirstFormSet
    verbose_name_plural = f"commands (newest {INLINE_ROWS})"
    fields = ("created_at", "kind", "params_table", "state", "attempts", "sent_at", "acked_at", "failure_reason",
              "actor")
    readonly_fields = fields
    params_table = staticmethod(json_field_display("params", "params"))
    ordering = ["-created_at"]
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Vehicle],
          action: Callable[[Vehicle], object], done: str) -> None:
    """Run a service per vehicle; one refusal does not stop the others, every refusal is reported."""
    ok = 0
    for vehicle in queryset:
        try:
            action(vehicle)
            ok += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{vehicle.code}: {exc.detail_message}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{done}: {ok} vehicle(s).", messages.SUCCESS)


def _command_action(kind: str, label: str) -> Callable[..., None]:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Vehicle]) -> None:
        _each(modeladmin, request, queryset,
              lambda v: services.command_queue(vehicle_id=v.id, kind=kind, actor=request.user), f"{label} queued")

    action.__name__ = f"send_{kind}"
    return admin.action(description=f"Send command: {label}", permissions=["send_command"])(action)


@admin.register(Vehicle)
class VehicleAdmin(ScaleAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = ("Every scooter and bike of every city. A vehicle is added here by hand (code, IMEI, type, city) and "
                  "then reports its position and battery by itself; status changes only through the actions.")
    list_display = ["code", "vehicle_type", "city", "status", "battery_pct", "locked", "position_at", "speed_kph"]
    list_filter = ["city", "vehicle_type", "status", BatteryBelowFilter, LastSeenOlderThanFilter, "locked"]
    search_fields = ["code", "imei"]
    list_select_related = ["vehicle_type", "city"]
    readonly_fields = ["id", "history", "status", "mds_state", "status_before_loss", "trip_id", "last_event_at", "battery_pct",
                       "range_meters", "lat", "lon", "position_at", "speed_kph", "odometer_meters", "locked",
                       "secret_rotated_at", "created_at", "updated_at"]
    fields = ["code", "imei", "vehicle_type", "city", "flags", *readonly_fields]
    inlines = [VehicleEventInline, CommandInline]
    actions = [
        _command_action(CommandKind.LOCK, "lock"), _command_action(CommandKind.UNLOCK, "unlock"),
        _command_action(CommandKind.LOCATE, "ring / locate"), _command_action(CommandKind.ALARM, "alarm"),
        _command_action(CommandKind.OPEN_BATTERY, "open battery compartment"),
        "set_maintenance", "retire", "rotate_credential",
    ]

    @admin.display(description="History")
    def history(self, obj: Vehicle) -> SafeString:
        events = reverse("admin:fleet_vehicleevent_changelist") + f"?vehicle__id__exact={obj.pk}"
        commands = reverse("admin:fleet_command_changelist") + f"?vehicle__id__exact={obj.pk}"
        return format_html('<a href="{}">all events</a> · <a href="{}">all commands</a>', events, commands)

    @admin.display(description="MDS state")
    def mds_state(self, obj: Vehicle) -> str:
        return obj.mds_state

    def has_send_command_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.add_command")

    def has_set_maintenance_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.set_vehicle_maintenance")

    def has_retire_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.retire_vehicle")

    def has_rotate_credential_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.rotate_vehicle_credential")

    @admin.action(description="Set maintenance", permissions=["set_maintenance"])
    def set_maintenance(self, request: HttpRequest, queryset: QuerySet[Vehicle]) -> None:
        _each(self, request, queryset,
              lambda v: services.vehicle_set_maintenance(vehicle_id=v.id, actor=request.user), "Set to maintenance")

    @admin.action(description="Retire (decommission) for good", permissions=["retire"])
    def retire(self, request: HttpRequest, queryset: QuerySet[Vehicle]) -> None:
        _each(self, request, queryset, lambda v: services.vehicle_retire(vehicle_id=v.id, actor=request.user), "Retired")

    @admin.action(description="Rotate IoT credential (shows the new secret once)", permissions=["rotate_credential"])
    def rotate_credential(self, request: HttpRequest, queryset: QuerySet[Vehicle]) -> None:
        for vehicle in queryset[:20]:
            secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id, actor=request.user)
            self.message_user(request, f"{vehicle.code} ({vehicle.id}): new secret {secret}", messages.WARNING)


@admin.register(VehicleEvent)
class VehicleEventAdmin(ReadOnlyAdmin):
    """The append-only log, searchable: a vehicle's full history is ``?vehicle__id__exact=<id>``."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["timestamp", "vehicle", "vehicle_state", "event_types", "status", "applied", "trip_id",
                    "actor_kind", "actor"]
    list_filter = ["vehicle_state", "status", "actor_kind", "applied"]
    search_fields = ["vehicle__code", "=trip_id"]
    list_select_related = ["vehicle", "actor"]
    date_hierarchy = "timestamp"


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "vehicle", "kind", "state", "attempts", "sent_at", "acked_at", "failure_reason",
                    "actor"]
    list_filter = ["kind", "state"]
    search_fields = ["vehicle__code", "=correlation_id", "=idempotency_key"]
    list_select_related = ["vehicle", "actor"]
