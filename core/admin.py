"""Admin building blocks every app uses: read-only pages for service-written records, JSON shown as tables
(never as a raw dump), and a helpful empty state on a changelist (``empty_help``, see templates/admin)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin_scale import ScaleAdmin
from core.models import AuditEntry, IdempotencyKey

_EMPTY = "—"
_MAX_DEPTH = 6


def json_display(value: Any, *, depth: int = 0) -> SafeString:
    """A JSON value as HTML for staff: an object is a two-column table (key, value), a list of objects a table with
    one column per key, a list of plain values one line, a plain value its text. Keys read as words
    (``vat_rate``: "vat rate"); everything is escaped."""
    if value is None or value == "" or value == {} or value == []:
        return format_html('<span class="fw-json-empty">{}</span>', _EMPTY)
    if depth >= _MAX_DEPTH:
        return format_html("<code>{}</code>", str(value))
    if isinstance(value, Mapping):
        rows = format_html_join("", "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                                ((_key(k), json_display(v, depth=depth + 1)) for k, v in value.items()))
        return format_html('<table class="fw-json"><tbody>{}</tbody></table>', rows)
    if isinstance(value, Sequence) and not isinstance(value, str):
        if all(isinstance(item, Mapping) for item in value):
            keys = list(dict.fromkeys(k for item in value for k in item))
            head = format_html_join("", "<th scope=\"col\">{}</th>", ((_key(k),) for k in keys))
            body = format_html_join("", "<tr>{}</tr>", (
                (format_html_join("", "<td>{}</td>", ((json_display(item.get(k), depth=depth + 1),) for k in keys)),)
                for item in value))
            return format_html('<table class="fw-json"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
                               head, body)
        if all(not isinstance(item, Mapping | list) for item in value):
            return format_html("{}", ", ".join(_scalar(item) for item in value))
        items = format_html_join("", "<li>{}</li>", ((json_display(item, depth=depth + 1),) for item in value))
        return format_html('<ol class="fw-json">{}</ol>', items)
    return format_html("{}", _scalar(value))


def _key(key: Any) -> str:
    return str(key).replace("_", " ")


def _scalar(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if value is None:
        return _EMPTY
    return str(value)


def json_field_display(field_name: str, label: str) -> Callable[[models.Model], SafeString]:
    """A read-only admin display of one JSONField, for ``readonly_fields`` / ``list_display`` / inlines."""

    def display(obj: models.Model) -> SafeString:
        return json_display(getattr(obj, field_name))

    display.short_description = label  # type: ignore[attr-defined]
    display.__name__ = f"{field_name}_table"
    return display


class ReadableJsonAdmin(ScaleAdmin):
    """Shows every JSONField of the model as a table (``json_display``), on the change page and in the list,
    unless it is named in ``editable_json`` (JSON that staff are meant to edit, e.g. a zone's GeoJSON)."""

    editable_json: Sequence[str] = ()

    def __init__(self, model: type[models.Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        self._json_tables: dict[str, str] = {}
        for field in model._meta.get_fields():
            if isinstance(field, models.JSONField) and field.name not in self.editable_json:
                name = f"{field.name}_table"
                setattr(self, name, json_field_display(field.name, str(field.verbose_name)))
                self._json_tables[field.name] = name

    def _swap(self, names: Sequence[Any]) -> list[Any]:
        return [self._json_tables.get(n, n) if isinstance(n, str) else n for n in names]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self._swap(super().get_fields(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [(name, {**opts, "fields": self._swap(opts["fields"])})
                for name, opts in super().get_fieldsets(request, obj)]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        names = list(super().get_readonly_fields(request, obj))
        return [*self._swap(names), *(n for n in self._json_tables.values() if n not in names)]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        return [*(super().get_exclude(request, obj) or []), *self._json_tables]

    def get_list_display(self, request: HttpRequest) -> Any:
        return self._swap(super().get_list_display(request))


class ReadOnlyAdmin(ReadableJsonAdmin):
    """For records that only services write (ledger, event logs, rides): the admin shows them, never edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CityTimeZoneAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A page about one object of one city (a vehicle, a ride, a zone, a task ...) shows its times in that city's
    zone, named at the top ("Times in Europe/Berlin, this city's zone"), instead of the staff member's zone
    (``fleet.middleware.AdminTimeZoneMiddleware``, which still applies to lists and to objects of no city).

    ``city_time_zone_path`` is the lookup from the model to its city's IANA zone (``"timezone"`` on a city).
    The zone is active for the whole change view, its form's input included, and for rendering the response.
    """

    city_time_zone_path = "city__timezone"

    def object_time_zone(self, request: HttpRequest, object_id: str) -> zoneinfo.ZoneInfo | None:
        try:
            name = (self.model._default_manager.filter(pk=object_id)
                    .values_list(self.city_time_zone_path, flat=True).first())
        except (ValidationError, ValueError):  # a malformed id: the view itself answers it
            return None
        try:
            return zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        zone = self.object_time_zone(request, object_id) if object_id else None
        if zone is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with timezone.override(zone):
            response = super().changeform_view(request, object_id, form_url,
                                               {**(extra_context or {}), "city_time_zone": zone.key})
            render = getattr(response, "render", None)
            if render is not None and not getattr(response, "is_rendered", True):
                render()  # a TemplateResponse renders later, outside this zone, unless rendered here
        return response


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ["key", "scope", "method", "path", "state", "response_status", "created_at", "expires_at"]
    list_filter = ["state", "method"]
    search_fields = ["key", "scope", "path"]


class AuditCityFilter(admin.SimpleListFilter):
    """An entry's city by name. Cities are few; they live in fleet, above core, so the model is looked up by
    its label (no import)."""

    title = "city"
    parameter_name = "city_id"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        city = apps.get_model("fleet", "City")
        return [(str(pk), name) for pk, name in city._default_manager.order_by("name").values_list("pk", "name")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(city_id=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The audit log (core.audit, docs/audit.md): read-only for everyone, as the table is append-only."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    date_hierarchy = "at"
    list_display = ["at", "actor_label", "action", "object_display", "source", "changed_fields", "reason_short"]
    list_filter = ["action", "source", "object_type", "actor_label", AuditCityFilter]
    search_fields = ["=object_id", "actor_label", "object_repr"]
    fields = ["at", "actor_label", "action", "object_display", "city_name", "changes_table", "reason",
              "source", "request_id", "ip"]
    empty_help = ("Nothing recorded yet. Every staff action (admin edits, vehicle commands, refunds, credits, "
                  "blocks, force-ends, credential rotations, role changes, task and alert work) lands here.")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # An object's "Audit log" link filters by object; a user's entries by actor.
        return lookup in ("object_id", "object_type", "actor", "actor__id__exact") or super().lookup_allowed(
            lookup, value, request)

    @admin.display(description="object", ordering="object_repr")
    def object_display(self, entry: AuditEntry) -> SafeString:
        label = entry.object_repr or entry.object_id or entry.object_type
        app_label, _, model_name = entry.object_type.partition(".")
        try:
            url = reverse(f"admin:{app_label}_{model_name}_change", args=[entry.object_id]) if entry.object_id else ""
        except NoReverseMatch:
            url = ""
        kind = entry.object_type
        if url:
            return format_html('<a href="{}">{}</a> <span class="fw-muted">{}</span>', url, label, kind)
        return format_html('{} <span class="fw-muted">{}</span>', label, kind)

    @admin.display(description="city")
    def city_name(self, entry: AuditEntry) -> str:
        if entry.city_id is None:
            return ""
        city = apps.get_model("fleet", "City")
        return city._default_manager.filter(pk=entry.city_id).values_list("name", flat=True).first() or str(entry.city_id)

    @admin.display(description="changed")
    def changed_fields(self, entry: AuditEntry) -> str:
        keys = list(dict.fromkeys([*entry.before, *entry.after]))
        text = ", ".join(_key(k) for k in keys[:6])
        return f"{text}, … ({len(keys)})" if len(keys) > 6 else text

    @admin.display(description="reason")
    def reason_short(self, entry: AuditEntry) -> str:
        return entry.reason if len(entry.reason) <= 80 else f"{entry.reason[:79]}…"

    @admin.display(description="before and after")
    def changes_table(self, entry: AuditEntry) -> SafeString:
        keys = list(dict.fromkeys([*entry.before, *entry.after]))
        if not keys:
            return format_html('<span class="fw-json-empty">{}</span>', "no field values recorded")
        rows = format_html_join("", '<tr><th scope="row">{}</th><td>{}</td><td>{}</td></tr>', (
            (_key(k), json_display(entry.before.get(k)), json_display(entry.after.get(k))) for k in keys))
        return format_html('<table class="fw-json"><thead><tr><th scope="col">field</th><th scope="col">before'
                           '</th><th scope="col">after</th></tr></thead><tbody>{}</tbody></table>', rows)
