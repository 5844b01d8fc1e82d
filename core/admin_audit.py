"""The admin's one audit hook: every registered ModelAdmin records its edits in the audit log (docs/audit.md).

``FreewheelAdminSite`` (the project's ``admin.site``, set by ``core.apps.FreewheelAdminConfig``) registers every
model admin, ours and third-party ones (groups, django-axes, token blacklist), as a subclass with
``AuditedAdmin`` first in its bases, so no admin class needs to remember it. ``AuditedAdmin`` uses the
ModelAdmin's public hooks:

- ``get_object`` on a POST keeps the object's values before the form changes them (``save_model`` reads them
  from the database for the list's inline editing, which does not call ``get_object``);
- ``save_formset`` keeps what inline forms added, changed and deleted;
- ``log_addition``, ``log_change`` and ``log_deletions`` (called by Django after the save, or before a delete,
  inside the view's transaction) record one entry per object with the changed fields before and after;
- every admin action is wrapped: an action that recorded nothing itself (through a service that audits, or the
  delete action's ``log_deletions``) and did something (no confirmation page) gets one ``admin.action`` entry
  naming the selected objects.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from core import audit

_PENDING = "_fw_audit_pending"  # the request attribute holding what an admin view saw before it saved


class _Pending:
    def __init__(self) -> None:
        self.before: dict[tuple[str, str], dict[str, Any]] = {}
        self.inlines: list[tuple[str, Any, Any]] = []  # (label, before, after) of inline objects

    def take_before(self, obj: models.Model) -> dict[str, Any] | None:
        """The values of ``obj`` the view loaded; or of the one object of its model it loaded, when saving gave
        the object a new id (a tariff edit publishes a new version row)."""
        found = self.before.pop(_key(obj), None)
        if found is None:
            same = [key for key in self.before if key[0] == audit.object_type(obj)]
            found = self.before.pop(same[0]) if len(same) == 1 else None
        return found


def _pending(request: HttpRequest) -> _Pending:
    pending = getattr(request, _PENDING, None)
    if pending is None:
        pending = _Pending()
        setattr(request, _PENDING, pending)
    return pending


def _key(obj: models.Model) -> tuple[str, str]:
    return audit.object_type(obj), str(obj.pk)


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Records the admin's add, change, delete and actions in the audit log (see the module's docstring)."""

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and request.method == "POST":
            _pending(request).before.setdefault(_key(obj), audit.snapshot(obj))
        return obj

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change and _key(obj) not in _pending(request).before:  # the list's inline editing
            fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
            if fresh is not None:
                _pending(request).before[_key(obj)] = audit.snapshot(fresh)
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        initial = {f.instance.pk: f.initial for f in formset.initial_forms}
        deleted = [(o, audit.snapshot(o)) for o in (f.instance for f in formset.deleted_forms) if o.pk]
        super().save_formset(request, form, formset, change)
        pending = _pending(request)
        name = str(formset.model._meta.verbose_name)
        for obj in formset.new_objects:
            pending.inlines.append((f"{name} «{obj}» added", None, audit.mask(audit.snapshot(obj))))
        for obj, fields in formset.changed_objects:
            was = initial.get(obj.pk, {})
            for field_name in fields:
                value = audit.jsonable(formset.model._meta.get_field(field_name).value_from_object(obj)) \
                    if _is_field(formset.model, field_name) else None
                before, after = audit.changes({field_name: audit.jsonable(was.get(field_name))}, {field_name: value})
                pending.inlines.append((f"{name} «{obj}» {field_name}", before.get(field_name), after.get(field_name)))
        for obj, values in deleted:
            pending.inlines.append((f"{name} «{obj}» deleted", audit.mask(values), None))

    def _record(self, request: HttpRequest, obj: models.Model, action: str,
                before: dict[str, Any], after: dict[str, Any], message: Any) -> None:
        pending = _pending(request)
        for label, was, now in pending.inlines:
            if was is not None:
                before[label] = was
            if now is not None:
                after[label] = now
        pending.inlines = []
        audit.audit_record(actor=request.user, action=action, obj=obj, before=before, after=after,
                           reason=_message_text(message))

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_addition(request, obj, message)
        after = {k: v for k, v in audit.snapshot(obj).items() if v not in ("", None, [], {})}
        self._record(request, obj, "admin.add", {}, audit.mask(after), "")
        return entry

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        was = _pending(request).take_before(obj)
        if was is None and audit.recording_action():
            return entry  # an action's note in Django's history: the action's service, or the wrapper, records it
        before, after = audit.changes(was, audit.snapshot(obj)) if was else ({}, {})
        self._record(request, obj, "admin.change", before, after, message)
        return entry

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            values = {k: v for k, v in audit.snapshot(obj).items() if v not in ("", None, [], {})}
            audit.audit_record(actor=request.user, action="admin.delete", obj=obj, before=audit.mask(values))
        return entries

    def get_actions(self, request: HttpRequest,
                    action_location: admin.ActionLocation = admin.ActionLocation.CHANGE_LIST) -> dict[str, Any]:
        return {name: dataclasses.replace(action, func=_audited_action(action.func, name))
                for name, action in super().get_actions(request, action_location).items() if action is not None}


def _is_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:  # a form field that is no model field
        return False
    return True


def _message_text(message: Any) -> str:
    """Django's change message when it is words (e.g. "Changed password."); the structured one of a form save
    lists field names, which the entry's before and after already show."""
    return message if isinstance(message, str) else ""


def _audited_action(func: Any, name: str) -> Any:
    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]) -> Any:  # type: ignore[type-arg]
        selected = list(queryset.values_list("pk", flat=True)[:101])
        with audit.entries_recorded() as counter:
            response = func(modeladmin, request, queryset)
            done = response is None or isinstance(response, HttpResponseRedirect)
            if counter.count == 0 and done and selected:
                model = modeladmin.model
                audit.audit_record(
                    actor=request.user, action="admin.action", object_type_label=audit.object_type(model),
                    object_id=selected[0] if len(selected) == 1 else "",
                    object_repr=f"{len(selected) if len(selected) <= 100 else 'over 100'} "
                                f"{model._meta.verbose_name_plural if len(selected) != 1 else model._meta.verbose_name}",
                    after={"action": name, "selected": [str(pk) for pk in selected[:100]]}, reason=name)
        return response

    action.__name__ = getattr(func, "__name__", name)
    for attr in ("short_description", "allowed_permissions", "description"):
        if hasattr(func, attr):
            setattr(action, attr, getattr(func, attr))
    return action


class FreewheelAdminSite(admin.AdminSite):
    """The project's admin site: Django's, with every model admin audited (``AuditedAdmin``)."""

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdmin):
            admin_class = type(admin_class.__name__, (AuditedAdmin, admin_class),
                               {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__,
                                "__qualname__": admin_class.__qualname__})
        super().register(model_or_iterable, admin_class, **options)

