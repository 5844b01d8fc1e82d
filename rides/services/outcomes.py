"""What a ride does when its vehicle answers: an unlock or lock acknowledged, refused or timed out (also late).

Apart from ``lifecycle`` (which queues those commands) because an acknowledged end's lock finishes the ride
(``finish``), and finish queues its lock through ``lifecycle``.
"""

from __future__ import annotations

import logging
import uuid

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState
from rides.models import OPEN_STATES, Ride, RideState
from rides.services import finish
from rides.services.common import lock_ride, push_command, push_updated
from rides.services.lifecycle import (
    END,
    FAILED,
    PAUSE,
    RESUME,
    close_pause,
    hold_release,
    ride_cancel_unlocking,
)

logger = logging.getLogger(__name__)


def _purpose_of(ride: Ride, command: Command) -> str | None:
    """``pause``, ``resume`` or ``end`` for a command queued by ``queue_command`` for this ride; ``None`` otherwise."""
    prefix = f"ride:{ride.id}:"
    if not command.idempotency_key.startswith(prefix):
        return None
    purpose = command.idempotency_key[len(prefix):].split(":", 1)[0]
    return purpose if purpose in (PAUSE, RESUME, END) else None


def _relock(ride: Ride) -> None:
    """The start was cancelled (its unlock timed out or was withdrawn), yet the vehicle says it unlocked: lock it
    again, once per ride (the key). Not when another ride holds the vehicle now (its rider wants it open), nor
    a moving one (the interlock): ops see the vehicle unlocked. Caller holds the locks."""
    if Ride.objects.filter(vehicle_id=ride.vehicle_id, state__in=OPEN_STATES).exists():
        logger.warning("ride %s: late unlock acknowledged; vehicle %s has another ride, not re-locked",
                       ride.id, ride.vehicle_id)
        return
    try:
        with transaction.atomic():
            fleet_services.command_queue(vehicle_id=ride.vehicle_id, kind=CommandKind.LOCK,
                                         idempotency_key=f"ride:{ride.id}:relock", locked=ride.vehicle)
    except (fleet_errors.VehicleMoving, fleet_errors.VehicleRetired):
        logger.warning("ride %s: late unlock acknowledged; vehicle %s could not be re-locked", ride.id, ride.vehicle_id)


def ride_command_closed(*, command_id: uuid.UUID) -> Ride | None:
    """A ride command was acknowledged, refused or timed out: move the ride on. Safe to call twice.

    Called after commit by the fleet's ``command_closed`` signal, and by the sweep task for anything missed.
    """
    found = (Ride.objects.filter(Q(unlock_command_id=command_id) | Q(lock_command_id=command_id))
             .values_list("id", "vehicle_id").first())
    if found is None:
        return None
    ride = _apply_command(found[0], found[1], command_id)
    if ride is not None and ride.state == RideState.ENDED:
        finish.ride_charge(ride=ride)
    elif ride is not None and ride.state == RideState.CANCELLED and command_id == ride.unlock_command_id:
        hold_release(ride.id)
    return ride


def _apply_command(ride_id: uuid.UUID, vehicle_id: uuid.UUID, command_id: uuid.UUID) -> Ride | None:
    with transaction.atomic():
        _, ride = lock_ride(ride_id, vehicle_id)
        command = fleet_selectors.command_get(command_id=command_id)
        acked = command.state == CommandState.ACKED
        if command.state not in FAILED and not acked:
            return ride
        if command.id in (ride.unlock_command_id, ride.lock_command_id):
            outcome = "acked" if acked else ("failed" if command.state == CommandState.FAILED else "timed_out")
            push_command(ride, command.kind, outcome)
        return _move_on(ride, command, acked)


def _move_on(ride: Ride, command: Command, acked: bool) -> Ride:
    """The ride's next state after its command closed, or after a late success answer (``command_ack`` makes a
    timed-out or cancelled command ``acked`` and announces it again). Caller holds the locks.

    A late answer counts by the command's purpose: the lock of an end request ends the ride if nothing was asked
    of the vehicle since (it is still the ride's last lock, so no pause and no resume came after it), billed to
    the time of the request; a late pause lock changes nothing (the rider has the pause or resume they asked for
    since); a late unlock of a cancelled start re-locks the vehicle (``_relock``)."""
    if ride.state == RideState.UNLOCKING and command.id == ride.unlock_command_id:
        if not acked:
            return ride_cancel_unlocking(ride=ride, reason=f"unlock_{command.state}")
        ride.state, ride.started_at = RideState.ACTIVE, command.acked_at or timezone.now()
        ride.save(update_fields=["state", "started_at"])
    elif ride.state == RideState.LOCKING and command.id == ride.lock_command_id:
        if acked:
            return finish.finish_locked(ride=ride, at=command.acked_at or timezone.now())
        ride.state, ride.end_requested_at = RideState.ACTIVE, None  # not locked: the ride goes on
        ride.save(update_fields=["state", "end_requested_at"])
    elif (ride.state == RideState.ACTIVE and command.id == ride.lock_command_id and acked
          and _purpose_of(ride, command) == END):
        # The end's lock had timed out and the ride went on, but the vehicle did lock when the rider asked: the
        # lock command was queued in the end request's transaction, so its creation is the request's time.
        logger.info("ride %s: late lock acknowledgement, ended as requested at %s", ride.id, command.created_at)
        ride.end_requested_at = command.created_at
        return finish.finish_locked(ride=ride, at=command.created_at)
    elif ride.state == RideState.CANCELLED and command.id == ride.unlock_command_id and acked:
        _relock(ride)
        return ride
    elif ride.state == RideState.PAUSED and command.id == ride.lock_command_id and not acked:
        close_pause(ride, timezone.now())  # the vehicle did not lock: no pause rate for an unlocked vehicle
        ride.state = RideState.ACTIVE
        ride.save(update_fields=["state", "paused_at", "paused_seconds"])
    else:
        return ride
    push_updated(ride)
    return ride
