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
- rebalance tasks: an idle vehicle (``FLEET_IDLE_REBALANCE_H``) or one parked outside the operating area gets one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from fleet.models import OpsAlert, OpsAlertKind, OpsAlertSeverity, OpsTask, OpsTaskKind, Vehicle
from fleet.models.ops import TASK_OPEN_STATES
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
    tasks = ops.ops_tasks_open(tasks=[*low_battery_tasks_missing(), *rebalance_tasks_missing(now=now)])
    closed = ops.ops_tasks_close_for(vehicle_ids=swapped_with_open_task(), kind=OpsTaskKind.SWAP_BATTERY)
    resolved = len(back) + len(recharged) + len(riding)
    return {"alerts_opened": len(opened), "alerts_resolved": resolved, "tasks_opened": len(tasks),
            "tasks_closed": closed}


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


def rebalance_tasks_missing(*, now: datetime) -> list[ops.TaskSpec]:
    """A rebalance task for every parked vehicle that must be moved and has none open: idle (``available`` with no
    event for ``FLEET_IDLE_REBALANCE_H`` hours: nobody rents it where it is), or parked outside the operating area
    (an open ``outside_operating_area`` alert and no trip)."""
    has_task = OpsTask.objects.filter(kind=OpsTaskKind.REBALANCE, state__in=TASK_OPEN_STATES).values("vehicle_id")
    idle_since = now - timedelta(hours=settings.FLEET_IDLE_REBALANCE_H)
    outside = OpsAlert.objects.filter(kind=OpsAlertKind.OUTSIDE_OPERATING_AREA, resolved_at__isnull=True).values(
        "vehicle_id")
    parked = Q(status__in=[Status.AVAILABLE, Status.LOW_BATTERY], trip_id__isnull=True)
    rows = (Vehicle.objects.filter(parked & (Q(status=Status.AVAILABLE, last_event_at__lt=idle_since)
                                             | Q(id__in=outside)))
            .exclude(id__in=has_task).values_list("id", "city_id", "last_event_at"))
    specs = []
    for vehicle_id, city_id, last_event_at in rows:
        idle = last_event_at is not None and last_event_at < idle_since
        reason = (f"idle since {last_event_at:%Y-%m-%d %H:%M} UTC" if idle else "parked outside the operating area")
        specs.append(ops.TaskSpec(vehicle_id, city_id, OpsTaskKind.REBALANCE, reason))
    return specs
