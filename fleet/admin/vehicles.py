"""Vehicles admin: list with ops filters, search by code/IMEI, bulk actions through the services, and the
vehicle page with its event log and commands (read-only). Status is never edited directly: only the actions
(which go through ``vehicle_transition``) change it.

Every vehicle command (lock, unlock, ring, alarm, speed limit, open battery) is an action of the list and of the
vehicle page (Django's change-form actions): a confirmation page first (the speed limit asks for its value in km/h),
then ``fleet.services.command_queue``; the vehicle page's command table shows the acknowledgement state. Times on a
vehicle page are in its city's zone (``core.admin.CityTimeZoneAdmin``). The console app adds the map, the battery
chart and the rides, tasks and alerts panels to the vehicle page (``console.admin``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.admin import CityTimeZoneAdmin, ReadOnlyAdmin, json_field_display
from core.admin_scale import ScaleAdmin
from core.errors import DomainError
from fleet import services
from fleet.admin.filters import BatteryBelowFilter, LastSeenOlderThanFilter
from fleet.admin.scope import CityScopedAdmin
from fleet.models import Command, CommandKind, OpsTaskKind, Vehicle, VehicleEvent
from fleet.services.commands import is_immobilising

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
    # Fits 1440 px beside the navigation; the position is on the map (and on each event's own page).
    fields = ("timestamp", "event_types", "vehicle_state", "status", "applied", "battery_pct", "trip_id",
              "actor_kind", "actor")
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Command]:
        return super().get_queryset(request).select_related("actor")

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


BOTH_PLACES = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
CONFIRM_SHOWN = 50  # vehicle codes listed on a bulk confirmation page


class SpeedLimitForm(forms.Form):
    max_speed_kph = forms.IntegerField(
        label="Speed limit (km/h)", min_value=0, max_value=100,
        help_text="0 to 100 km/h; 0 cuts the throttle (refused while the vehicle is moving).")


def _queue_confirmed(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Vehicle], *, kind: str,
                     label: str) -> TemplateResponse | None:
    """A command to the selected vehicles after a confirmation page (which asks a speed limit its value).

    The confirmation page posts the action again with ``confirm`` and a token made when it was shown: a second
    click or a reload of that post finds the commands of the first by their idempotency keys instead of queueing
    them twice."""
    form = SpeedLimitForm(request.POST if "confirm" in request.POST else None) \
        if kind == CommandKind.SET_SPEED_LIMIT else None
    token = request.POST.get("command_token", "")
    confirmed = "confirm" in request.POST and len(token) == 32 and (form is None or form.is_valid())
    if not confirmed:
        return _confirmation_page(modeladmin, request, queryset, kind=kind, label=label, form=form)
    params = {"max_speed_kph": form.cleaned_data["max_speed_kph"]} if form is not None else None
    queued: list[Command] = []

    def send(vehicle: Vehicle) -> None:
        queued.append(services.command_queue(vehicle_id=vehicle.id, kind=kind, params=params, actor=request.user,
                                             idempotency_key=f"admin:{token}:{vehicle.id}", audited=True))

    _each(modeladmin, request, queryset, send, f"{label} queued")
    if len(queued) == 1:
        command = queued[0]
        modeladmin.message_user(request, f"{command.vehicle.code}: {label} is {command.state}; the vehicle page's "
                                "commands panel shows when the vehicle acknowledges it.", messages.INFO)
    return None


def _confirmation_page(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Vehicle], *, kind: str,
                       label: str, form: SpeedLimitForm | None) -> TemplateResponse:
    vehicles = list(queryset.order_by("code").values_list("code", flat=True)[:CONFIRM_SHOWN + 1])
    repost = [(name, value) for name in request.POST if name not in ("csrfmiddlewaretoken", "confirm", "command_token",
                                                                     "max_speed_kph")
              for value in request.POST.getlist(name)]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": f"Send command: {label}", "opts": modeladmin.opts, "label": label, "kind": kind,
        "vehicles": vehicles[:CONFIRM_SHOWN], "more": max(queryset.count() - CONFIRM_SHOWN, 0)
        if len(vehicles) > CONFIRM_SHOWN else 0,
        "immobilising": is_immobilising(kind, {"max_speed_kph": 0} if form is not None else {}),
        "form": form, "repost": repost, "token": request.POST.get("command_token") or uuid.uuid4().hex,
        "back": request.get_full_path(), "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/fleet/vehicle/command_confirm.html", context)


def _command_action(kind: str, label: str) -> Callable[..., TemplateResponse | None]:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest,
               queryset: QuerySet[Vehicle]) -> TemplateResponse | None:
        return _queue_confirmed(modeladmin, request, queryset, kind=kind, label=label)

    action.__name__ = f"send_{kind}"
    return admin.action(description=f"Send command: {label}", permissions=["send_command"],
                        location=BOTH_PLACES)(action)


def _task_action(kind: str, label: str) -> Callable[..., None]:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Vehicle]) -> None:
        _each(modeladmin, request, queryset, lambda v: services.ops_task_create(
            vehicle_id=v.id, kind=kind, actor=request.user, reason=f"opened in the admin by {request.user}"),
            f"Task '{label}' open")

    action.__name__ = f"open_task_{kind}"
    return admin.action(description=f"Open task: {label}", permissions=["open_task"],
                        location=BOTH_PLACES)(action)


# Only fleet managers (who add vehicles) change what identifies a vehicle: its sticker code and modem IMEI.
IDENTITY_FIELDS = ["code", "imei"]


@admin.register(Vehicle)
class VehicleAdmin(CityScopedAdmin, CityTimeZoneAdmin, ScaleAdmin):
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
    inlines = [CommandInline, VehicleEventInline]
    actions = [
        _command_action(CommandKind.LOCK, "lock"), _command_action(CommandKind.UNLOCK, "unlock"),
        _command_action(CommandKind.LOCATE, "ring / locate"), _command_action(CommandKind.ALARM, "alarm"),
        _command_action(CommandKind.SET_SPEED_LIMIT, "speed limit"),
        _command_action(CommandKind.OPEN_BATTERY, "open battery compartment"),
        _task_action(OpsTaskKind.INSPECT, "inspect"), _task_action(OpsTaskKind.REPAIR, "repair"),
        _task_action(OpsTaskKind.SWAP_BATTERY, "swap battery"), _task_action(OpsTaskKind.RETRIEVE, "retrieve"),
        _task_action(OpsTaskKind.REBALANCE, "rebalance"), _task_action(OpsTaskKind.SECURE, "secure"),
        "set_maintenance", "retire", "rotate_credential",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Vehicle | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.has_perm("fleet.add_vehicle"):
            return [*IDENTITY_FIELDS, *readonly]
        return readonly

    def has_open_task_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.add_opstask")

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
class VehicleEventAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    city_field = "vehicle__city"
    """The append-only log, searchable: a vehicle's full history is ``?vehicle__id__exact=<id>``."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["timestamp", "vehicle", "vehicle_state", "event_types", "status", "applied", "trip_id",
                    "actor_kind", "actor"]
    list_filter = ["vehicle_state", "status", "actor_kind", "applied"]
    search_fields = ["vehicle__code", "=trip_id"]
    list_select_related = ["vehicle", "actor"]
    date_hierarchy = "timestamp"
    city_time_zone_path = "vehicle__city__timezone"


@admin.register(Command)
class CommandAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    city_field = "vehicle__city"
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "vehicle", "kind", "state", "attempts", "sent_at", "acked_at", "failure_reason",
                    "actor"]
    list_filter = ["kind", "state"]
    search_fields = ["vehicle__code", "=correlation_id", "=idempotency_key"]
    list_select_related = ["vehicle", "actor"]
    city_time_zone_path = "vehicle__city__timezone"
