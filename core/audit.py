"""The audit log: every staff action, append-only, with who, when, what and before/after (docs/audit.md).

Why explicit recording and not a row-level library (django-auditlog's signals, django-pghistory's triggers): those
record every row write, the telemetry pipeline's thousands of vehicle updates a second included, and know neither
the intent (a refund is several ledger rows, a vehicle command one queued row) nor the acting staff member outside
a request. So the services staff act through call ``audit_record`` with the actor they are given, inside their own
transaction (a rolled-back action leaves no entry), and one generic hook records plain admin edits
(``core.admin_audit.AuditedAdmin``, which every registered ModelAdmin gets). django-simple-history still keeps
restorable versions of zones; it answers "what did this zone look like", this log "who did what".

The request's context (request id, client IP, source) comes from ``AuditContextMiddleware`` through a context
variable; the actor never does: a service records the actor it was passed.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.http import HttpRequest, HttpResponse

from core.clientip import client_ip
from core.models import AuditEntry, AuditSource

MASK = "[masked]"
# A field whose value is a secret or a hash of one: its value never reaches the log, only that it changed.
_SECRET_NAME = re.compile(r"(password|secret|token|hash|api_key|private_key)$")
_MAX_M2M = 200  # related objects listed per many-to-many field; a role with more is summarised


@dataclass(frozen=True)
class AuditContext:
    source: str = AuditSource.SYSTEM
    request_id: str = ""
    ip: str | None = None
    operator: str = ""  # a management command's: who ran what, the actor's label (there is no staff user)


@dataclass
class _Counter:
    count: int = 0
    entries: list[AuditEntry] = field(default_factory=list)


_NO_CONTEXT = AuditContext()  # frozen: a safe shared default
_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("audit_context", default=_NO_CONTEXT)
_counter: contextvars.ContextVar[_Counter | None] = contextvars.ContextVar("audit_counter", default=None)


def current_context() -> AuditContext:
    return _context.get()


@contextlib.contextmanager
def audit_context(*, source: str | None = None, request_id: str | None = None, ip: str | None = None,
                  operator: str | None = None) -> Iterator[AuditContext]:
    """Where the actions inside come from. Unset values keep the surrounding context's."""
    now = _context.get()
    ctx = replace(now, source=source or now.source, request_id=request_id or now.request_id or uuid.uuid4().hex,
                  ip=ip if ip is not None else now.ip, operator=operator if operator is not None else now.operator)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def command_context(command: str) -> contextlib.AbstractContextManager[AuditContext]:
    """For a management command that acts as staff would (issues a token, imports zones): its actions are
    recorded with source ``command`` and, as the actor's label, the operating-system user and the command
    (``root: manage.py mds_agency_token``), since no staff user is signed in at a shell."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name in a container without a passwd entry
        user = "unknown user"
    return audit_context(source=AuditSource.COMMAND, operator=f"{user}: manage.py {command}")


@contextlib.contextmanager
def entries_recorded() -> Iterator[_Counter]:
    """Counts the entries recorded inside (the admin's action wrapper records a generic entry when an action
    recorded none itself)."""
    counter = _Counter()
    token = _counter.set(counter)
    try:
        yield counter
    finally:
        _counter.reset(token)


def recording_action() -> bool:
    """Whether an admin action's wrapper is counting (``entries_recorded``)."""
    return _counter.get() is not None


def _source_for(request: HttpRequest) -> str:
    path = request.path_info
    if path.startswith("/api/"):
        return AuditSource.API
    match = request.resolver_match
    if match is not None and "admin" in match.namespaces:
        return AuditSource.ADMIN
    return AuditSource.CONSOLE  # the staff pages of their own: fleet map, support's rider page, the task page


class AuditContextMiddleware:
    """Sets the audit context of a request: a request id (also sent back as ``X-Request-ID``), the client IP
    (``core.clientip``) and the source, from the view that answers (admin, API or a console page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        ctx = AuditContext(source=AuditSource.CONSOLE, request_id=uuid.uuid4().hex, ip=client_ip(request) or None)
        token = _context.set(ctx)
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        response["X-Request-ID"] = ctx.request_id
        return response

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> None:
        _context.set(replace(_context.get(), source=_source_for(request)))


# --- values ------------------------------------------------------------------------------------------------


def is_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: dates, decimals and UUIDs as text, files by name, bytes summarised."""
    if isinstance(value, bytes | memoryview):
        return f"({len(value)} bytes)"
    if hasattr(value, "name") and hasattr(value, "storage"):  # a FieldFile
        return value.name or ""
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):
        return str(value)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The object's values by field name: its columns (a foreign key as the related id) and its many-to-many
    relations (the related objects' names, e.g. a user's groups). Secrets are included as they are, for
    ``changes`` to compare; ``mask`` hides them before anything is stored."""
    values: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        if not getattr(f, "auto_now", False):  # "updated at" changes with every save: no news
            values[f.name] = jsonable(f.value_from_object(obj))
    if obj.pk is not None:
        for m2m in obj._meta.many_to_many:
            assert isinstance(m2m.related_model, type)
            names = [f.name for f in m2m.related_model._meta.concrete_fields if f.is_relation and not f.null]
            manager = getattr(obj, m2m.name).all()
            related = (manager.select_related(*names) if names else manager)[: _MAX_M2M + 1]
            names = sorted(str(r) for r in related)
            values[m2m.name] = names if len(names) <= _MAX_M2M else [*names[:_MAX_M2M], "…"]
    return values


def mask(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (MASK if v not in ("", None) else v) if is_secret(k) else v for k, v in values.items()}


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose value differs, as (before, after), with secrets masked (a changed password shows as
    ``[masked]`` on both sides: that it changed, not what it was)."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return mask({k: before.get(k) for k in keys}), mask({k: after.get(k) for k in keys})


def object_label(obj: models.Model) -> str:
    return str(obj)[:200]


def object_type(obj: models.Model | type[models.Model]) -> str:
    return str(obj._meta.label_lower)


def city_id_of(obj: models.Model) -> uuid.UUID | None:
    """The object's city: its ``city_id``, or its own id for a city."""
    if obj._meta.model_name == "city":
        return obj.pk  # type: ignore[no-any-return]
    value = getattr(obj, "city_id", None)
    return value if isinstance(value, uuid.UUID) else None


# --- the service -------------------------------------------------------------------------------------------


def audit_record(*, actor: Any, action: str, obj: models.Model | None = None, object_type_label: str = "",
                 object_id: Any = "", object_repr: str = "", city_id: uuid.UUID | None = None,
                 before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
                 reason: str = "", source: str | None = None) -> AuditEntry:
    """Record one staff action. Call it inside the transaction of the action itself, so that an action rolled
    back leaves no entry. ``before``/``after`` are the changed fields (pass what you have; secrets are masked
    here); ``obj`` fills the object's type, id, name and city unless they are given.

    ``actor`` is the staff member who acted (None for the system); its email is kept in ``actor_label``,
    which survives the user's deletion."""
    ctx = _context.get()
    if obj is not None:
        object_type_label = object_type_label or object_type(obj)
        object_id = object_id or obj.pk
        object_repr = object_repr or object_label(obj)
        city_id = city_id or city_id_of(obj)
    actor_id = getattr(actor, "pk", None)
    entry = AuditEntry.objects.create(
        actor_id=actor_id,
        actor_label=(actor.get_username() if actor_id is not None else ctx.operator)[:254],
        action=action,
        object_type=object_type_label,
        object_id=str(object_id or "")[:64],
        object_repr=str(object_repr)[:200],
        city_id=city_id,
        before=jsonable(mask(before or {})),
        after=jsonable(mask(after or {})),
        reason=reason,
        source=source or ctx.source,
        request_id=ctx.request_id,
        ip=ctx.ip,
    )
    counter = _counter.get()
    if counter is not None:
        counter.count += 1
        counter.entries.append(entry)
    return entry


def is_staff_actor(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_staff", False) or getattr(actor, "is_superuser", False))


def audit_staff_action(*, actor: Any, action: str, **fields: Any) -> AuditEntry | None:
    """``audit_record`` when ``actor`` is a staff member, or when an operator runs a management command
    (``command_context``); None for a rider acting on their own ride or the system (a rider's unlock queues a
    command too: that is no staff action). For services that both serve."""
    if not is_staff_actor(actor) and not (actor is None and _context.get().operator):
        return None
    return audit_record(actor=actor, action=action, **fields)
