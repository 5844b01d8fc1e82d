"""The beat sweep that makes open alerts and swap tasks follow the vehicles' state (``fleet.tasks.ops_alerts_sweep``,
every minute). Telemetry reactions open and resolve most alerts as readings arrive; this catches what no reading
announces (a vehicle that went silent is marked ``non_contactable`` by the liveness sweep) and anything a failed
reaction missed. Each step is one set-based query plus the opens (one INSERT) and resolves: safe to run twice.

- ``comms_lost``: open for every vehicle ``non_contactable`` or ``missing``; resolved once it is neither.
- ``battery_low``: open for every vehicle in service below ``FLEET_LOW_BATTERY_PCT``; resolved at
  ``FLEET_CHARGED_BATTERY_PCT`` or more (charged or swapped).
- ``unauthorised_movement`` (opened by telemetry): resolved once the vehicle has a reservation or trip (a ride
  started), or once it has kept reporting without moving for ``ALERT_MOVEMENT_CLEAR_S``.
- swap tasks: every vehicle in ``low_battery`` has exactly one open ``swap_battery`` task (the constraint makes it
  at most one; this makes it at least one, also for a vehicle whose earlier task was closed); a vehicle charged
  again has its swap task closed by the system.
- rebalance tasks: every parked vehicle (``available`` or ``low_battery``, no trip) that must be moved has exactly
  one open ``rebalance`` task: idle (``FLEET_IDLE_REBALANCE_H``), parked outside the operating area, or parked in
  a zone where no ride may end (no-parking, no-ride, a must-park area outside its spots; the compliance page's
  verdicts). The task records that condition; once none holds (ridden, moved to an allowed place, back in the
  area, no longer idle, taken off the street) the sweep closes an *open* task as done by the system with the
  reason, and *marks* an assigned one (``condition_cleared_at``) instead of pulling it from the technician who
  holds it; the mark comes off if the condition returns. Tasks opened by hand are never closed by the sweep.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from fleet.models import (
    OpsAlert,
    OpsAlertKind,
    OpsAlertSeverity,
    OpsTask,
    OpsTaskCondition,
    OpsTaskKind,
    OpsTaskState,
    Vehicle,
    ZoneKind,
)
from fleet.models.ops import TASK_OPEN_STATES
from fleet.selectors import compliance
from fleet.services import ops
from fleet.states import Status

LOST = (Status.NON_CONTACTABLE, Status.MISSING)
# A battery is nobody's business in these: retired, in the workshop or on the charger.
OFF_STREET = (Status.RETIRED, Status.IN_WORKSHOP, Status.CHARGING)


def _open_without(kind: str, vehicles: Q) -> list[tuple[uuid.UUID, uuid.UUID, str, int | None]]:
    has_open = OpsAlert.objects.filter(kind=kind, resolved_at__isnull=True).values("vehicle_id")
    return list(Vehicle.objects.filter(vehicles).exclude(id__in=has_open)
                .values_list("id", "city_id", "code", "battery_pct"))


def _cleared(kind: str, vehicles: Q) -> list[uuid.UUID]:
    return list(OpsAlert.objects.filter(kind=kind, resolved_at__isnull=True).exclude(
        vehicle_id__in=Vehicle.objects.filter(vehicles).values("id")).values_list("vehicle_id", flat=True))


def movement_stopped(*, now: datetime) -> list[uuid.UUID]:
    """Vehicles whose ``unauthorised_movement`` was last seen ``ALERT_MOVEMENT_CLEAR_S`` ago and that reported
    since (a vehicle that went silent while being carried off keeps its alert)."""
    quiet = now - timedelta(seconds=settings.ALERT_MOVEMENT_CLEAR_S)
    seen = Coalesce("condition_seen_at", "opened_at")
    return list(OpsAlert.objects.annotate(seen=seen).filter(
        kind=OpsAlertKind.UNAUTHORISED_MOVEMENT, resolved_at__isnull=True, seen__lt=quiet,
        vehicle__last_seen_at__gt=F("seen")).exclude(vehicle__status__in=LOST).values_list("vehicle_id", flat=True))


def ops_alerts_sweep(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    low, charged = settings.FLEET_LOW_BATTERY_PCT, settings.FLEET_CHARGED_BATTERY_PCT
    lost = Q(status__in=LOST)
    low_q = Q(battery_pct__lt=low) & ~Q(status__in=OFF_STREET)
    specs = [ops.AlertSpec(v, c, OpsAlertKind.COMMS_LOST, OpsAlertSeverity.WARNING,
                           f"Vehicle {code} stopped reporting", {}) for v, c, code, _ in
             _open_without(OpsAlertKind.COMMS_LOST, lost)]
    specs += [ops.AlertSpec(v, c, OpsAlertKind.BATTERY_LOW, OpsAlertSeverity.INFO,
                            f"Vehicle {code} battery at {pct} % (below {low} %)", {"battery_pct": pct})
              for v, c, code, pct in _open_without(OpsAlertKind.BATTERY_LOW, low_q)]
    opened = ops.ops_alerts_open(alerts=specs)
    back = ops.ops_alerts_resolve_for(vehicle_ids=_cleared(OpsAlertKind.COMMS_LOST, lost),
                                      kind=OpsAlertKind.COMMS_LOST, reason="comms restored")
    still_low = Q(battery_pct__lt=charged) & ~Q(status__in=OFF_STREET) | Q(battery_pct__isnull=True)
    recharged = ops.ops_alerts_resolve_for(vehicle_ids=_cleared(OpsAlertKind.BATTERY_LOW, still_low),
                                           kind=OpsAlertKind.BATTERY_LOW, reason="battery charged or swapped")
    riding = ops.ops_alerts_resolve_for(vehicle_ids=_cleared(OpsAlertKind.UNAUTHORISED_MOVEMENT, Q(trip_id__isnull=True)),
                                        kind=OpsAlertKind.UNAUTHORISED_MOVEMENT, reason="a ride started")
    riding += ops.ops_alerts_resolve_for(vehicle_ids=movement_stopped(now=now),
                                         kind=OpsAlertKind.UNAUTHORISED_MOVEMENT, reason="movement stopped")
    needed = rebalance_needed(now=now)
    tasks = ops.ops_tasks_open(tasks=[*low_battery_tasks_missing(), *rebalance_tasks_missing(needed)])
    closed = ops.ops_tasks_close_for(vehicle_ids=swapped_with_open_task(), kind=OpsTaskKind.SWAP_BATTERY,
                                     reason="battery charged or swapped")
    rebalance = rebalance_tasks_follow(needed)
    resolved = len(back) + len(recharged) + len(riding)
    return {"alerts_opened": len(opened), "alerts_resolved": resolved, "tasks_opened": len(tasks),
            "tasks_closed": closed + rebalance["closed"], "tasks_marked_cleared": rebalance["marked"]}


def low_battery_tasks_missing() -> list[ops.TaskSpec]:
    """A swap task for every ``low_battery`` vehicle without an open one (e.g. its earlier task was closed)."""
    has_task = OpsTask.objects.filter(kind=OpsTaskKind.SWAP_BATTERY, state__in=TASK_OPEN_STATES).values("vehicle_id")
    rows = Vehicle.objects.filter(status=Status.LOW_BATTERY).exclude(id__in=has_task).values_list(
        "id", "city_id", "battery_pct")
    return [ops.TaskSpec(v, c, OpsTaskKind.SWAP_BATTERY,
                         f"battery {pct} % (low_battery, no open swap task)" if pct is not None else "low_battery")
            for v, c, pct in rows]


def swapped_with_open_task() -> list[uuid.UUID]:
    """Vehicles with an open swap task that are charged again (``FLEET_CHARGED_BATTERY_PCT``) and no longer
    ``low_battery``: the system closes the task as done (a reaction missed the charge, or ops swapped it and
    forgot to close it)."""
    charged = Vehicle.objects.filter(battery_pct__gte=settings.FLEET_CHARGED_BATTERY_PCT).exclude(
        status=Status.LOW_BATTERY).values("id")
    return list(OpsTask.objects.filter(kind=OpsTaskKind.SWAP_BATTERY, state__in=TASK_OPEN_STATES,
                                       vehicle_id__in=charged).values_list("vehicle_id", flat=True))


# Parked on the street, free to rent or waiting for a swap: where a vehicle stands is ops' business.
PARKED = (Status.AVAILABLE, Status.LOW_BATTERY)


@dataclass(frozen=True, slots=True)
class Need:
    city_id: uuid.UUID
    condition: str  # OpsTaskCondition
    reason: str


def rebalance_needed(*, now: datetime) -> dict[uuid.UUID, Need]:
    """Every parked vehicle (no trip) that must be moved, and why: in a zone where no ride may end, outside the
    operating area (an open ``outside_operating_area`` alert), or idle (``available`` with no event for
    ``FLEET_IDLE_REBALANCE_H`` hours: nobody rents it where it is). A vehicle with several gets the first."""
    parked = Q(status__in=PARKED, trip_id__isnull=True)
    idle_since = now - timedelta(hours=settings.FLEET_IDLE_REBALANCE_H)
    needed: dict[uuid.UUID, Need] = {}
    for vehicle_id, city_id, last_event_at in Vehicle.objects.filter(
            parked, status=Status.AVAILABLE, last_event_at__lt=idle_since).values_list("id", "city_id", "last_event_at"):
        needed[vehicle_id] = Need(city_id, OpsTaskCondition.IDLE, f"idle since {last_event_at:%Y-%m-%d %H:%M} UTC")
    outside = OpsAlert.objects.filter(kind=OpsAlertKind.OUTSIDE_OPERATING_AREA, resolved_at__isnull=True).values(
        "vehicle_id")
    for vehicle_id, city_id in Vehicle.objects.filter(parked, id__in=outside).values_list("id", "city_id"):
        needed[vehicle_id] = Need(city_id, OpsTaskCondition.OUTSIDE_AREA, "parked outside the operating area")
    for vehicle_id, where in compliance.vehicles_misparked(statuses=PARKED, at=now).items():
        kind = str(ZoneKind(where.zone_kind).label).lower() if where.zone_kind in ZoneKind.values else where.zone_kind
        needed[vehicle_id] = Need(where.city_id, OpsTaskCondition.MISPARKED,
                                  f"parked in {where.zone_name} ({kind} zone): no ride may end there")
    return needed


def rebalance_tasks_missing(needed: dict[uuid.UUID, Need]) -> list[ops.TaskSpec]:
    """A rebalance task for every vehicle of ``needed`` without an open one."""
    has_task = set(OpsTask.objects.filter(kind=OpsTaskKind.REBALANCE, state__in=TASK_OPEN_STATES).values_list(
        "vehicle_id", flat=True))
    return [ops.TaskSpec(vehicle_id, need.city_id, OpsTaskKind.REBALANCE, need.reason, condition=need.condition)
            for vehicle_id, need in needed.items() if vehicle_id not in has_task]


def rebalance_tasks_follow(needed: dict[uuid.UUID, Need]) -> dict[str, int]:
    """The sweep's open rebalance tasks whose condition cleared: closed as done by the system with the reason when
    nobody holds them, marked when someone does; a mark comes off when the condition holds again."""
    rows = list(OpsTask.objects.filter(kind=OpsTaskKind.REBALANCE, state__in=TASK_OPEN_STATES).exclude(condition="")
                .values_list("vehicle_id", "state", "condition", "condition_cleared_at"))
    cleared = {vehicle_id: condition for vehicle_id, _, condition, _ in rows if vehicle_id not in needed}
    reasons = cleared_reasons(cleared)
    closed = ops.ops_tasks_close_for(vehicle_ids=list(cleared), kind=OpsTaskKind.REBALANCE, reasons=reasons,
                                     only_unassigned=True, condition_only=True)
    marked = ops.ops_tasks_mark_cleared(
        vehicle_ids=[v for v, state, _, _ in rows if v in cleared and state == OpsTaskState.ASSIGNED],
        kind=OpsTaskKind.REBALANCE)
    ops.ops_tasks_condition_back(vehicle_ids=[v for v, _, _, at in rows if at is not None and v in needed],
                                 kind=OpsTaskKind.REBALANCE)
    return {"closed": closed, "marked": marked}


CLEARED: dict[str, str] = {OpsTaskCondition.IDLE: "no longer idle (ridden or moved since)",
                           OpsTaskCondition.MISPARKED: "moved to a place where rides may end",
                           OpsTaskCondition.OUTSIDE_AREA: "back in the operating area"}


def cleared_reasons(cleared: dict[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """Why each vehicle no longer needs its rebalance task, as the task's outcome says it."""
    reasons = {}
    for vehicle_id, status, trip_id in Vehicle.objects.filter(id__in=list(cleared)).values_list(
            "id", "status", "trip_id"):
        if trip_id is not None or status == Status.ON_TRIP:
            why = "the vehicle is on a ride"
        elif status not in PARKED:
            why = f"the vehicle is {str(Status(status).label).lower()}"
        else:
            why = CLEARED.get(cleared[vehicle_id], "the condition no longer holds")
        reasons[vehicle_id] = f"condition cleared: {why}"
    return reasons
