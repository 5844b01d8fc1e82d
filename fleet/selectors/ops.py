"""Ops alerts and tasks as ops see them: lists filtered by city, kind and state, newest first."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from fleet import errors
from fleet.models import OpsAlert, OpsAlertKind, OpsTask
from fleet.models.ops import TASK_OPEN_STATES

ALERT_STATES = ("open", "resolved", "all")
TASK_STATE_FILTERS = ("open", "assigned", "done", "cancelled", "active", "all")  # active = open or assigned


def ops_alerts_list(*, city_id: uuid.UUID | None = None, kind: str | None = None, state: str = "open",
                    vehicle_id: uuid.UUID | None = None) -> QuerySet[OpsAlert]:
    alerts = OpsAlert.objects.select_related("vehicle", "resolved_by")
    if state == "open":
        alerts = alerts.filter(resolved_at__isnull=True)
    elif state == "resolved":
        alerts = alerts.filter(resolved_at__isnull=False)
    if city_id is not None:
        alerts = alerts.filter(city_id=city_id)
    if kind:
        alerts = alerts.filter(kind=kind)
    if vehicle_id is not None:
        alerts = alerts.filter(vehicle_id=vehicle_id)
    return alerts


def ops_tasks_list(*, city_id: uuid.UUID | None = None, kind: str | None = None, state: str = "active",
                   assignee_id: uuid.UUID | None = None, vehicle_id: uuid.UUID | None = None) -> QuerySet[OpsTask]:
    tasks = OpsTask.objects.select_related("vehicle", "assignee")
    if state == "active":
        tasks = tasks.filter(state__in=TASK_OPEN_STATES)
    elif state != "all":
        tasks = tasks.filter(state=state)
    if city_id is not None:
        tasks = tasks.filter(city_id=city_id)
    if kind:
        tasks = tasks.filter(kind=kind)
    if assignee_id is not None:
        tasks = tasks.filter(assignee_id=assignee_id)
    if vehicle_id is not None:
        tasks = tasks.filter(vehicle_id=vehicle_id)
    return tasks


def ops_alert_get(*, alert_id: uuid.UUID) -> OpsAlert:
    alert = OpsAlert.objects.select_related("vehicle", "resolved_by").filter(id=alert_id).first()
    if alert is None:
        raise errors.OpsAlertNotFound()
    return alert


def ops_task_get(*, task_id: uuid.UUID) -> OpsTask:
    task = OpsTask.objects.select_related("vehicle", "assignee").filter(id=task_id).first()
    if task is None:
        raise errors.OpsTaskNotFound()
    return task


def vehicles_awaiting_lock(*, vehicle_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these vehicles are held until they confirm a lock (an open ``lock_unconfirmed`` alert, see
    ``fleet.services.securing``): one query, for telemetry's batches."""
    if not vehicle_ids:
        return set()
    return set(OpsAlert.objects.filter(vehicle_id__in=vehicle_ids, kind=OpsAlertKind.LOCK_UNCONFIRMED,
                                       resolved_at__isnull=True).values_list("vehicle_id", flat=True))
