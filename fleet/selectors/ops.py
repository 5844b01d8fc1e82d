"""Ops alerts and tasks as ops see them: lists filtered by city, kind and state, newest first."""

from __future__ import annotations

import math
import uuid
from typing import Any

from django.db.models import ExpressionWrapper, F, FloatField, QuerySet, Value
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt

from fleet import errors, grid
from fleet.models import OpsAlert, OpsAlertKind, OpsTask, OpsTaskNote
from fleet.models.ops import TASK_OPEN_STATES
from fleet.selectors.nearby import check_point as selectors_check_point

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
    """Newest first (the admin's order); ``ops_tasks_for_technician`` sorts for work (the API and the phone page)."""
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
    task = OpsTask.objects.select_related("vehicle", "assignee", "city").filter(id=task_id).first()
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


def _distance_m(lat: float, lon: float) -> Any:
    """Great-circle (haversine) distance in metres from (lat, lon) to the task's vehicle; None without a position."""
    half_dlat = Sin(Radians(F("vehicle__lat") - lat) / 2)
    half_dlon = Sin(Radians(F("vehicle__lon") - lon) / 2)
    a = Power(half_dlat, 2) + math.cos(math.radians(lat)) * Cos(Radians(F("vehicle__lat"))) * Power(half_dlon, 2)
    return ExpressionWrapper(2 * grid.EARTH_RADIUS_M * ASin(Sqrt(a)), output_field=FloatField())


def ops_tasks_for_technician(*, lat: float | None = None, lon: float | None = None,
                             **filters: Any) -> QuerySet[OpsTask]:
    """The tasks a technician works through: most urgent priority first, then nearest to (lat, lon) when given,
    then oldest. Each task carries ``distance_m`` (None without a position)."""
    tasks = ops_tasks_list(**filters)
    if lat is None or lon is None:
        return tasks.annotate(distance_m=Value(None, output_field=FloatField())).order_by("priority", "created_at", "id")
    selectors_check_point(lat, lon)
    return tasks.annotate(distance_m=_distance_m(lat, lon)).order_by(
        "priority", F("distance_m").asc(nulls_last=True), "created_at", "id")


def ops_task_notes(*, task_id: uuid.UUID) -> QuerySet[OpsTaskNote]:
    return OpsTaskNote.objects.filter(task_id=task_id).select_related("author").order_by("created_at")
