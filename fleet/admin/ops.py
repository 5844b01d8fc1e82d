"""Ops alerts and tasks admin: lists filtered by city, kind and state; actions resolve / close / assign to me,
all through ``fleet.services.ops`` (rows are never edited directly)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from core.admin import CityTimeZoneAdmin, ReadOnlyAdmin
from core.errors import DomainError
from fleet import services
from fleet.admin.scope import CityScopedAdmin
from fleet.models import OpsAlert, OpsTask, OpsTaskNote, OpsTaskPriority, OpsTaskState


class AlertOpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "open"), ("resolved", "resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("open", "resolved"):
            return queryset.filter(resolved_at__isnull=self.value() == "open")
        return queryset


def _each(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any],
          action: Callable[[Any], object], done: str) -> None:
    ok = 0
    for row in queryset:
        try:
            action(row)
            ok += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{row}: {exc.detail_message}", messages.WARNING)
    if ok:
        modeladmin.message_user(request, f"{done}: {ok}.", messages.SUCCESS)


@admin.register(OpsAlert)
class OpsAlertAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = ("No alerts: telemetry opens one when a vehicle needs a person (tipped over, tampered with, in a "
                  "no-ride zone on a trip, a speed limit not applied, a ride ended unlocked, lost contact, battery "
                  "low, moving without a trip, outside the operating area); most resolve by themselves when the "
                  "condition clears, ops resolve the rest here. Alert endpoints send them to Slack or email.")
    list_display = ["opened_at", "vehicle", "city", "kind", "severity", "message", "resolved_at", "resolved_by_who"]
    list_filter = [AlertOpenFilter, "city", "kind", "severity", "resolved_by_system"]
    search_fields = ["vehicle__code", "message"]
    list_select_related = ["vehicle", "city", "resolved_by"]
    date_hierarchy = "opened_at"
    actions = ["resolve"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.change_opsalert")

    @admin.display(description="resolved by", ordering="resolved_by")
    def resolved_by_who(self, obj: OpsAlert) -> str:
        if obj.resolved_at is None:
            return "-"
        who = "System" if obj.resolved_by_system else str(obj.resolved_by or "-")
        return f"{who}: {obj.resolution}" if obj.resolution else who

    @admin.action(description="Resolve", permissions=["resolve"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[OpsAlert]) -> None:
        _each(self, request, queryset, lambda a: services.ops_alert_resolve(alert_id=a.id, actor=request.user),
              "Resolved")


class OpsTaskNoteInline(admin.TabularInline):
    model = OpsTaskNote
    fields = ("created_at", "author", "text", "photo_link")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Notes and photos"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="photo")
    def photo_link(self, obj: OpsTaskNote) -> str:
        if not obj.photo:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">open photo</a>', obj.photo.url)


@admin.register(OpsTask)
class OpsTaskAdmin(CityScopedAdmin, CityTimeZoneAdmin, ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = ("No tasks: field work (swap a battery, inspect, repair, retrieve, rebalance, secure) is opened by "
                  "telemetry, the alerts and rider reports, or by hand from a vehicle (its 'Open task' actions); "
                  "technicians work through them on their phones at /ops/tasks/.")
    list_display = ["created_at", "vehicle", "city", "kind", "priority", "state", "reason", "assignee", "closed_at",
                    "outcome"]
    list_filter = ["state", "city", "kind"]
    inlines = [OpsTaskNoteInline]
    search_fields = ["vehicle__code", "reason"]
    list_select_related = ["vehicle", "city", "assignee"]
    date_hierarchy = "created_at"
    actions = ["assign_to_me", "close_done", "close_cancelled", "priority_urgent", "priority_high", "priority_normal",
               "priority_low"]

    def has_work_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.change_opstask")

    @admin.action(description="Assign to me", permissions=["work"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        _each(self, request, queryset, lambda t: services.ops_task_assign(task_id=t.id, assignee=request.user, actor=request.user),
              "Assigned to you")

    @admin.action(description="Close as done", permissions=["work"])
    def close_done(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        _each(self, request, queryset, lambda t: services.ops_task_close(task_id=t.id, actor=request.user), "Done")

    @admin.action(description="Cancel", permissions=["work"])
    def close_cancelled(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        _each(self, request, queryset, lambda t: services.ops_task_close(
            task_id=t.id, actor=request.user, outcome=OpsTaskState.CANCELLED), "Cancelled")

    # Reprioritising: technicians' task pages re-sort live (fleet.services.ops.ops_task_set_priority pushes it).
    def _prioritise(self, request: HttpRequest, queryset: QuerySet[OpsTask], priority: OpsTaskPriority) -> None:
        _each(self, request, queryset,
              lambda t: services.ops_task_set_priority(task_id=t.id, priority=priority, actor=request.user),
              f"Priority {priority.label.lower()}")

    @admin.action(description="Priority: urgent", permissions=["work"])
    def priority_urgent(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        self._prioritise(request, queryset, OpsTaskPriority.URGENT)

    @admin.action(description="Priority: high", permissions=["work"])
    def priority_high(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        self._prioritise(request, queryset, OpsTaskPriority.HIGH)

    @admin.action(description="Priority: normal", permissions=["work"])
    def priority_normal(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        self._prioritise(request, queryset, OpsTaskPriority.NORMAL)

    @admin.action(description="Priority: low", permissions=["work"])
    def priority_low(self, request: HttpRequest, queryset: QuerySet[OpsTask]) -> None:
        self._prioritise(request, queryset, OpsTaskPriority.LOW)
