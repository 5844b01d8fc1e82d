"""Ops alerts and tasks: open (at most one open per vehicle and kind), resolve, assign, close; vehicle flags.

Opening is batch-shaped for telemetry: one ``INSERT ... ON CONFLICT DO NOTHING`` for any number of alerts or
tasks, backed by the partial unique constraints, so a retried batch or a vehicle that keeps reporting the same
alarm opens nothing new, and two workers racing cannot open two. Only what was really opened is announced to the
city's ops sockets (``core.push.to_fleet``, after commit). Resolving and closing are idempotent too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models, transaction
from django.db.models import F, Func, Q, QuerySet, Value
from django.utils import timezone

from core import audit, push
from fleet import errors
from fleet.models import OpsAlert, OpsAlertKind, OpsAlertSeverity, OpsTask, OpsTaskState, Vehicle
from fleet.models.ops import KIND_PRIORITY, TASK_OPEN_STATES, OpsTaskPriority
from fleet.models.vehicles import Flag

# Alerts that come from the vehicle's own alarm are pushed as ``vehicle.alarm``; others as ``ops_alert.opened``.
ALARM_KINDS = frozenset({OpsAlertKind.TIPPED_OVER, OpsAlertKind.TAMPER})
# Resolving an alert of this kind takes the matching flag off the vehicle.
ALERT_FLAGS: dict[str, str] = {OpsAlertKind.TIPPED_OVER: Flag.TIPPED_OVER}


@dataclass(frozen=True, slots=True)
class AlertSpec:
    vehicle_id: uuid.UUID
    city_id: uuid.UUID
    kind: str
    severity: str = OpsAlertSeverity.WARNING
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskSpec:
    vehicle_id: uuid.UUID
    city_id: uuid.UUID
    kind: str
    reason: str = ""
    priority: int | None = None  # None: the kind's (KIND_PRIORITY)
    condition: str = ""  # OpsTaskCondition: the sweep's reason, which lets it close the task when it clears


_INSERT_ALERTS = """
    INSERT INTO fleet_opsalert (id, vehicle_id, city_id, kind, severity, message, data, opened_at)
    SELECT v.id, v.vehicle_id, v.city_id, v.kind, v.severity, v.message, v.data::jsonb, %s
      FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[])
           AS v(id, vehicle_id, city_id, kind, severity, message, data)
    ON CONFLICT (vehicle_id, kind) WHERE resolved_at IS NULL DO NOTHING
    RETURNING id
"""

_INSERT_TASKS = """
    INSERT INTO fleet_opstask (id, vehicle_id, city_id, kind, state, reason, priority, condition, created_at)
    SELECT v.id, v.vehicle_id, v.city_id, v.kind, 'open', v.reason, v.priority, v.condition, %s
      FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::smallint[], %s::text[])
           AS v(id, vehicle_id, city_id, kind, reason, priority, condition)
    ON CONFLICT (vehicle_id, kind) WHERE state IN ('open', 'assigned') DO NOTHING
    RETURNING id
"""


def _dedupe(specs: Sequence[Any]) -> list[Any]:
    # ON CONFLICT cannot handle the same key twice in one statement: the first spec of a (vehicle, kind) wins.
    return list({(s.vehicle_id, s.kind): s for s in reversed(specs)}.values())[::-1]


def ops_alerts_open(*, alerts: Sequence[AlertSpec], at: datetime | None = None) -> list[OpsAlert]:
    """Open the alerts that are not open yet (one statement); returns only those newly opened, and pushes them."""
    specs = _dedupe(alerts)
    if not specs:
        return []
    ids = [uuid.uuid4() for _ in specs]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_ALERTS, [
            at or timezone.now(), ids, [s.vehicle_id for s in specs], [s.city_id for s in specs],
            [s.kind for s in specs], [s.severity for s in specs], [s.message[:300] for s in specs],
            [json.dumps(s.data) for s in specs],
        ])
        opened = {row[0] for row in cursor.fetchall()}
    if not opened:
        return []
    found = list(OpsAlert.objects.filter(id__in=opened).select_related("vehicle"))
    for alert in found:
        event = "vehicle.alarm" if alert.kind in ALARM_KINDS else "ops_alert.opened"
        push.to_fleet(alert.city_id, event, alert_payload(alert))
    alert_ids = [str(alert.id) for alert in found]
    transaction.on_commit(lambda: _dispatch(alert_ids, "opened"))
    return found


def _dispatch(alert_ids: list[str], event: str) -> None:
    """After commit: one task routes the batch's opened or resolved alerts to webhooks and email
    (fleet.services.alerting)."""
    from fleet import tasks  # fleet.tasks imports the services

    tasks.alerts_dispatch.delay(alert_ids, event)


def ops_tasks_open(*, tasks: Sequence[TaskSpec], at: datetime | None = None) -> list[OpsTask]:
    """Open the tasks that are not open yet (one statement); returns only those newly opened, and pushes them."""
    specs = _dedupe(tasks)
    if not specs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_TASKS, [
            at or timezone.now(), [uuid.uuid4() for _ in specs], [s.vehicle_id for s in specs],
            [s.city_id for s in specs], [s.kind for s in specs], [s.reason[:300] for s in specs],
            [s.priority or KIND_PRIORITY.get(s.kind, OpsTaskPriority.NORMAL) for s in specs],
            [s.condition for s in specs],
        ])
        opened = {row[0] for row in cursor.fetchall()}
    if not opened:
        return []
    found = list(OpsTask.objects.filter(id__in=opened).select_related("vehicle"))
    for task in found:
        task_pushed(task, "ops_task.opened")
    return found


def task_pushed(task: OpsTask, event: str) -> None:
    """Announce a task's change (after commit) to the city's fleet sockets (the map) and task pages."""
    payload = task_payload(task)
    push.to_fleet(task.city_id, event, payload)
    push.to_tasks(task.city_id, event, payload)


def _city_of(vehicle_id: uuid.UUID) -> uuid.UUID:
    city_id = Vehicle.objects.filter(id=vehicle_id).values_list("city_id", flat=True).first()
    if city_id is None:
        raise errors.VehicleNotFound()
    return city_id


def ops_task_open(*, vehicle_id: uuid.UUID, kind: str, reason: str = "") -> OpsTask:
    """Open a task for one vehicle, or return the one already open for that vehicle and kind."""
    spec = TaskSpec(vehicle_id=vehicle_id, city_id=_city_of(vehicle_id), kind=kind, reason=reason)
    opened = ops_tasks_open(tasks=[spec])
    if opened:
        return opened[0]
    return OpsTask.objects.get(vehicle_id=vehicle_id, kind=kind, state__in=TASK_OPEN_STATES)


def ops_alert_open(*, vehicle_id: uuid.UUID, kind: str, severity: str = OpsAlertSeverity.WARNING,
                   message: str = "", data: dict[str, Any] | None = None) -> OpsAlert:
    """Open an alert for one vehicle, or return the one already open for that vehicle and kind."""
    spec = AlertSpec(vehicle_id=vehicle_id, city_id=_city_of(vehicle_id), kind=kind, severity=severity,
                     message=message, data=data or {})
    opened = ops_alerts_open(alerts=[spec])
    if opened:
        return opened[0]
    return OpsAlert.objects.get(vehicle_id=vehicle_id, kind=kind, resolved_at__isnull=True)


def _flag_expression(function: str, flag: str) -> Func:
    return Func(F("flags"), Value(flag), function=function, output_field=ArrayField(models.CharField()))


def vehicles_flag(*, vehicle_ids: Sequence[uuid.UUID], flag: str) -> int:
    """Add ``flag`` to the vehicles that do not have it yet (one UPDATE); returns how many changed."""
    if not vehicle_ids:
        return 0
    return (Vehicle.objects.filter(id__in=vehicle_ids).exclude(flags__contains=[flag])
            .update(flags=_flag_expression("array_append", flag)))


def vehicles_unflag(*, vehicle_ids: Sequence[uuid.UUID], flag: str) -> int:
    if not vehicle_ids:
        return 0
    return (Vehicle.objects.filter(id__in=vehicle_ids, flags__contains=[flag])
            .update(flags=_flag_expression("array_remove", flag)))


@transaction.atomic
def ops_alert_resolve(*, alert_id: uuid.UUID, actor: Any = None, reason: str = "", dispatch: bool = True) -> OpsAlert:
    """Mark the alert resolved (a second call changes nothing); without ``actor`` it is recorded as resolved by the
    system (the condition cleared). A resolved tipped-over alert unflags the vehicle. After commit the resolution
    goes to the endpoints that received the alert (``dispatch=False``: the caller dispatches a batch)."""
    alert = OpsAlert.objects.select_for_update().filter(id=alert_id).first()
    if alert is None:
        raise errors.OpsAlertNotFound()
    if alert.resolved_at is not None:
        return alert
    alert.resolved_at, alert.resolved_by, alert.resolved_by_system = timezone.now(), actor, actor is None
    alert.resolution = (reason or ("resolved by staff" if actor is not None else "condition cleared"))[:120]
    alert.save(update_fields=["resolved_at", "resolved_by", "resolved_by_system", "resolution"])
    audit.audit_staff_action(actor=actor, action="fleet.alert_resolve", obj=alert, reason=reason,
                             before={"resolved_at": None},
                             after={"resolved_at": audit.jsonable(alert.resolved_at), "resolution": alert.resolution})
    if (flag := ALERT_FLAGS.get(alert.kind)) is not None:
        vehicles_unflag(vehicle_ids=[alert.vehicle_id], flag=flag)
    push.to_fleet(alert.city_id, "ops_alert.resolved", alert_payload(alert))
    if dispatch:
        resolved_ids = [str(alert.id)]
        transaction.on_commit(lambda: _dispatch(resolved_ids, "resolved"))
    return alert


def ops_alerts_resolve_for(*, vehicle_ids: Sequence[uuid.UUID], kind: str, reason: str,
                           seen_before: datetime | None = None) -> list[OpsAlert]:
    """The system resolves the open alerts of a kind for these vehicles because the condition cleared (one
    SELECT, then one savepoint-free resolve each; only vehicles that have one pay). ``seen_before``: only alerts
    whose condition was last seen before then (movement that stopped long enough)."""
    if not vehicle_ids:
        return []
    open_ = OpsAlert.objects.filter(vehicle_id__in=vehicle_ids, kind=kind, resolved_at__isnull=True)
    if seen_before is not None:
        open_ = open_.filter(Q(condition_seen_at__lt=seen_before) | Q(condition_seen_at__isnull=True,
                                                                       opened_at__lt=seen_before))
    resolved = [ops_alert_resolve(alert_id=alert_id, reason=reason, dispatch=False)
                for alert_id in open_.values_list("id", flat=True)]
    if resolved:  # one routing task for the batch: a storm clearing is digested like the storm itself
        resolved_ids = [str(alert.id) for alert in resolved]
        transaction.on_commit(lambda: _dispatch(resolved_ids, "resolved"))
    return resolved


def ops_alerts_seen(*, vehicle_ids: Sequence[uuid.UUID], kind: str, at: datetime) -> int:
    """The condition of these vehicles' open alerts of ``kind`` was observed again at ``at`` (one UPDATE)."""
    if not vehicle_ids:
        return 0
    return OpsAlert.objects.filter(vehicle_id__in=vehicle_ids, kind=kind, resolved_at__isnull=True).update(
        condition_seen_at=at)


def lock_task(task_id: uuid.UUID) -> OpsTask:
    task = OpsTask.objects.select_for_update().filter(id=task_id).first()
    if task is None:
        raise errors.OpsTaskNotFound()
    return task


@transaction.atomic
def ops_task_assign(*, task_id: uuid.UUID, assignee: Any, actor: Any = None) -> OpsTask:
    """Give an open task to someone (again: reassigns). ``OpsTaskClosed`` (409) once it is done or cancelled.
    ``actor``: the staff member assigning it (the assignee themselves for "assign to me")."""
    task = lock_task(task_id)
    if not task.is_open:
        raise errors.OpsTaskClosed(state=task.state)
    if (task.state, task.assignee_id) != (OpsTaskState.ASSIGNED, assignee.pk):
        before = {"state": task.state, "assignee": str(task.assignee_id or "") or None}
        task.state, task.assignee = OpsTaskState.ASSIGNED, assignee
        task.save(update_fields=["state", "assignee"])
        audit.audit_staff_action(actor=actor, action="fleet.task_assign", obj=task, before=before,
                                 after={"state": task.state, "assignee": str(assignee.pk)})
        task_pushed(task, "ops_task.assigned")
    return task


@transaction.atomic
def ops_task_set_priority(*, task_id: uuid.UUID, priority: int, actor: Any = None) -> OpsTask:
    """Reprioritise an open task (``OpsTaskPriority``: 1 urgent ... 4 low). ``OpsTaskClosed`` (409) once closed.
    ``actor``: the staff member doing it (audited)."""
    if priority not in OpsTaskPriority.values:
        raise ValueError(f"priority must be one of {OpsTaskPriority.values}, not {priority!r}")
    task = lock_task(task_id)
    if not task.is_open:
        raise errors.OpsTaskClosed(state=task.state)
    if task.priority != priority:
        before = {"priority": task.priority}
        task.priority = priority
        task.save(update_fields=["priority"])
        audit.audit_staff_action(actor=actor, action="fleet.task_priority", obj=task, before=before,
                                 after={"priority": priority})
        task_pushed(task, "ops_task.updated")
    return task


def ops_tasks_close_for(*, vehicle_ids: Sequence[uuid.UUID], kind: str, outcome: str = OpsTaskState.DONE,
                        reason: str = "", reasons: Mapping[uuid.UUID, str] | None = None,
                        only_unassigned: bool = False, condition_only: bool = False) -> int:
    """The system closes the open tasks of a kind for these vehicles because their condition cleared (no actor:
    ``closed_by`` stays empty), e.g. swap_battery once the battery is reported charged; ``reason`` (or the
    vehicle's entry of ``reasons``) becomes the outcome. ``only_unassigned``: leave tasks someone holds;
    ``condition_only``: only tasks the sweep opened for a condition (never one opened by hand). Rows a technician
    is closing this very moment are skipped (SKIP LOCKED): their close wins. Each close is pushed; returns how
    many were closed."""
    if not vehicle_ids:
        return 0
    states = (OpsTaskState.OPEN,) if only_unassigned else TASK_OPEN_STATES
    with transaction.atomic():
        tasks = OpsTask.objects.select_for_update(skip_locked=True, of=("self",)).select_related("vehicle").filter(
            vehicle_id__in=vehicle_ids, kind=kind, state__in=states)
        if condition_only:
            tasks = tasks.exclude(condition="")
        found = list(tasks)
        now = timezone.now()
        for task in found:
            task.state, task.closed_at = outcome, now
            task.outcome = ((reasons or {}).get(task.vehicle_id) or reason)[:300]
        OpsTask.objects.bulk_update(found, ["state", "closed_at", "outcome"])
        for task in found:
            task_pushed(task, "ops_task.closed")
    return len(found)


def ops_tasks_mark_cleared(*, vehicle_ids: Sequence[uuid.UUID], kind: str) -> int:
    """The condition of these vehicles' assigned sweep tasks of ``kind`` cleared: marked (and pushed), left to the
    technician who holds them, who may have moved the vehicle and closes the task with what they did."""
    return _condition_cleared_set(
        OpsTask.objects.filter(vehicle_id__in=vehicle_ids, kind=kind, state=OpsTaskState.ASSIGNED,
                               condition_cleared_at__isnull=True).exclude(condition=""),
        timezone.now()) if vehicle_ids else 0


def ops_tasks_condition_back(*, vehicle_ids: Sequence[uuid.UUID], kind: str) -> int:
    """A cleared condition holds again (the vehicle is idle or misparked again): the mark comes off (pushed)."""
    return _condition_cleared_set(
        OpsTask.objects.filter(vehicle_id__in=vehicle_ids, kind=kind, state__in=TASK_OPEN_STATES,
                               condition_cleared_at__isnull=False),
        None) if vehicle_ids else 0


def _condition_cleared_set(tasks: QuerySet[OpsTask], cleared_at: datetime | None) -> int:
    """Set ``condition_cleared_at`` on ``tasks`` that nobody is writing this moment (SKIP LOCKED), and push each."""
    with transaction.atomic():
        found = list(tasks.select_for_update(skip_locked=True, of=("self",)).select_related("vehicle"))
        for task in found:
            task.condition_cleared_at = cleared_at
        OpsTask.objects.bulk_update(found, ["condition_cleared_at"])
        for task in found:
            task_pushed(task, "ops_task.updated")
    return len(found)


def alert_payload(alert: OpsAlert) -> dict[str, Any]:
    return {"id": str(alert.id), "vehicle_id": str(alert.vehicle_id), "code": alert.vehicle.code,
            "kind": alert.kind, "severity": alert.severity, "message": alert.message, "data": alert.data,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "resolved_by_system": alert.resolved_by_system}


def task_payload(task: OpsTask) -> dict[str, Any]:
    return {"id": str(task.id), "vehicle_id": str(task.vehicle_id), "code": task.vehicle.code, "kind": task.kind,
            "state": task.state, "reason": task.reason, "assignee_id": str(task.assignee_id) if task.assignee_id else None,
            "priority": task.priority, "outcome": task.outcome, "condition": task.condition,
            "condition_cleared_at": task.condition_cleared_at.isoformat() if task.condition_cleared_at else None,
            "created_at": task.created_at.isoformat()}
