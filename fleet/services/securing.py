"""A trip that ends without a confirmed lock (ops force-end, auto-end) leaves a vehicle that may be open.

Until the vehicle confirms it is locked it is held out of service: MDS ``[trip_end, maintenance]`` takes it
from ``on_trip`` through ``available`` to ``non_operational`` (status ``maintenance``), so nearby and ride
starts skip it. A fresh lock is sent with a key of its own, and ops get an alert ``lock_unconfirmed`` and a task
``secure`` (one open of each per vehicle). The confirmation, a lock acknowledgement (``command_ack``) or a
telemetry reading saying ``locked``, releases the hold: back to ``available`` (``low_battery`` below
``FLEET_LOW_BATTERY_PCT``) unless something else changed the vehicle's status meanwhile, the alert resolved and the
task closed by the system. A lock that times out changes nothing: the vehicle stays held, the alert open.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from core.db import joins_transaction
from fleet import errors
from fleet.models import (
    ActorKind,
    Command,
    CommandKind,
    OpsAlert,
    OpsAlertKind,
    OpsAlertSeverity,
    OpsTaskKind,
    Vehicle,
    VehicleEvent,
)
from fleet.services import commands, ops
from fleet.services.transitions import Location, lock_vehicle, vehicle_transition
from fleet.states import Status

logger = logging.getLogger(__name__)
# Events that may follow the hold without anyone having changed the vehicle's status on purpose.
_CONTACT_EVENTS = ["comms_lost", "comms_restored", "not_located", "located"]


@joins_transaction
def trip_end_unsecured(
    *, vehicle_id: uuid.UUID, trip_id: uuid.UUID, lock_key: str, actor: Any = None,
    actor_kind: str = ActorKind.OPS, location: Location | None = None, battery_pct: int | None = None,
    locked: Vehicle | None = None,
) -> Command | None:
    """End the trip into the hold described above; returns the fresh lock command (``None`` for a moving
    vehicle: the interlock refuses to lock it, and the alert is critical). ``lock_key``: the command's
    idempotency key, distinct from every lock the rider sent. Runs in the caller's transaction; ``locked``: the
    vehicle row the caller holds."""
    vehicle = lock_vehicle(vehicle_id, held=locked)
    event = vehicle_transition(vehicle_id=vehicle_id, event_types=["trip_end", "maintenance"], trip_id=trip_id,
                               actor=actor, actor_kind=actor_kind, location=location, battery_pct=battery_pct,
                               locked=vehicle)
    command: Command | None = None
    try:
        with transaction.atomic():
            command = commands.command_queue(vehicle_id=vehicle_id, kind=CommandKind.LOCK, actor=actor,
                                             idempotency_key=lock_key, locked=vehicle)
    except errors.VehicleMoving:
        logger.warning("trip %s ended on moving vehicle %s: no lock sent", trip_id, vehicle_id)
    what = "the lock was sent" if command is not None else "it is moving, so no lock could be sent"
    ops.ops_alert_open(
        vehicle_id=vehicle_id, kind=OpsAlertKind.LOCK_UNCONFIRMED,
        severity=OpsAlertSeverity.WARNING if command is not None else OpsAlertSeverity.CRITICAL,
        message=f"Vehicle {vehicle.code}: trip ended without a confirmed lock; {what}",
        data={"trip_id": str(trip_id), "event_id": str(event.id),
              "command_id": str(command.id) if command is not None else None, "lat": vehicle.lat, "lon": vehicle.lon},
    )
    ops.ops_task_open(vehicle_id=vehicle_id, kind=OpsTaskKind.SECURE,
                      reason=f"Trip {trip_id} ended without a confirmed lock: lock or collect the vehicle")
    return command


@joins_transaction
def vehicle_lock_confirmed(*, vehicle_id: uuid.UUID) -> str | None:
    """The vehicle says it is locked: end its hold, if it has one. Returns its status then, ``None`` without a
    hold. A vehicle out of contact keeps the hold (its alert stays open) until a later report."""
    alert = OpsAlert.objects.filter(vehicle_id=vehicle_id, kind=OpsAlertKind.LOCK_UNCONFIRMED,
                                    resolved_at__isnull=True).first()
    if alert is None:
        return None
    vehicle = lock_vehicle(vehicle_id)
    if vehicle.status in (Status.NON_CONTACTABLE, Status.MISSING):
        return vehicle.status
    if _still_held(vehicle, alert):
        low = vehicle.battery_pct is not None and vehicle.battery_pct < settings.FLEET_LOW_BATTERY_PCT
        # MDS: maintenance done -> available; or a relabel within non_operational (unspecified) to low battery.
        vehicle_transition(vehicle_id=vehicle_id, event_types=["unspecified" if low else "maintenance"],
                           status=Status.LOW_BATTERY if low else Status.AVAILABLE, actor_kind=ActorKind.DEVICE,
                           locked=vehicle)
    ops.ops_alert_resolve(alert_id=alert.id)
    ops.ops_tasks_close_for(vehicle_ids=[vehicle_id], kind=OpsTaskKind.SECURE, reason="lock confirmed")
    return vehicle.status


def _still_held(vehicle: Vehicle, alert: OpsAlert) -> bool:
    """In maintenance, and nothing since the hold but losing and regaining contact (ops or a rider's problem
    report may have put it in maintenance for a reason of their own: then it stays there)."""
    hold = VehicleEvent.objects.filter(id=alert.data.get("event_id"), vehicle_id=vehicle.id).first()
    if vehicle.status != Status.MAINTENANCE or hold is None:
        return False
    later = VehicleEvent.objects.filter(vehicle_id=vehicle.id, applied=True, recorded_at__gt=hold.recorded_at)
    return not later.exclude(event_types__contained_by=_CONTACT_EVENTS).exists()

