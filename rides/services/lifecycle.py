"""The ride's state machine after start: vehicle acknowledgements, pause/resume, end request, cancel.

``unlocking -> active <-> paused``, ``active|paused -> locking -> ended``, ``unlocking -> cancelled``.
Every transition locks the vehicle, then the ride, and re-checks the state under the lock; an illegal one
raises ``RideStateConflict`` (409, ``details.state``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing import errors as billing_errors
from billing.services import rides as billing_rides
from fleet import services as fleet_services
from fleet.models import ActorKind, Command, CommandKind, CommandState
from rides.models import Ride, RideState
from rides.services.common import lock_ride, push_command, push_updated, require_state

logger = logging.getLogger(__name__)
FAILED = (CommandState.FAILED, CommandState.TIMED_OUT, CommandState.EXPIRED)


def _queue(ride: Ride, kind: str, actor: object) -> uuid.UUID:
    """Queue a lock/unlock for this ride; the key numbers the ride's commands so a retry reuses its command."""
    n = ride.pause_count * 2 + (1 if kind == CommandKind.LOCK else 2)
    command = fleet_services.command_queue(vehicle_id=ride.vehicle_id, kind=kind, actor=actor,
                                           idempotency_key=f"ride:{ride.id}:{kind}:{n}")
    return command.id


def ride_pause(*, ride_id: uuid.UUID, rider: object = None) -> Ride:
    """Lock the vehicle (a ``lock`` command); the pause rate applies from now. ``rider``: must be theirs."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        require_state(ride, RideState.ACTIVE)
        ride.lock_command_id = _queue(ride, CommandKind.LOCK, rider)
        ride.state, ride.paused_at, ride.pause_count = RideState.PAUSED, timezone.now(), ride.pause_count + 1
        ride.save(update_fields=["lock_command_id", "state", "paused_at", "pause_count"])
        push_updated(ride)
        return ride


def close_pause(ride: Ride, now: datetime) -> None:
    if ride.paused_at is not None:
        ride.paused_seconds += max(0, int((now - ride.paused_at).total_seconds()))
        ride.paused_at = None


def ride_resume(*, ride_id: uuid.UUID, rider: object = None) -> Ride:
    """Unlock the vehicle again (an ``unlock`` command); the riding rate applies. ``rider``: must be theirs."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        require_state(ride, RideState.PAUSED)
        ride.unlock_command_id = _queue(ride, CommandKind.UNLOCK, rider)
        close_pause(ride, timezone.now())
        ride.state = RideState.ACTIVE
        ride.save(update_fields=["unlock_command_id", "state", "paused_at", "paused_seconds"])
        push_updated(ride)
        return ride


def ride_cancel_unlocking(*, ride: Ride, reason: str, actor_kind: str = ActorKind.SYSTEM) -> Ride:
    """Never unlocked: MDS trip_cancel, its unlock withdrawn if still open (``fleet.services.command_cancel``),
    nothing charged. Caller holds the locks, and calls ``hold_release`` after its transaction (a payment provider
    call must not run while the rows are locked)."""
    locked = ride.vehicle if Ride.vehicle.is_cached(ride) else None  # lock_ride's locked row
    fleet_services.trip_cancel(vehicle_id=ride.vehicle_id, trip_id=ride.id, actor_kind=actor_kind, locked=locked)
    if ride.unlock_command_id is not None:  # ops or the sweep cancel while the unlock is still open: withdraw it
        fleet_services.command_cancel(command_id=ride.unlock_command_id, reason=f"ride cancelled: {reason}")
    ride.state, ride.cancel_reason, ride.ended_at = RideState.CANCELLED, reason, timezone.now()
    ride.save(update_fields=["state", "cancel_reason", "ended_at"])
    push_updated(ride)
    return ride


def hold_release(ride_id: uuid.UUID) -> None:
    """Void the hold of a cancelled ride; outside any transaction. Never raises: ``rides_charge_pending`` retries."""
    try:
        billing_rides.ride_hold_release(ride_id=ride_id)
    except billing_errors.RideBillingNotFound:
        pass  # the start stopped before its hold
    except Exception:  # noqa: BLE001 - the ride is cancelled either way; the periodic task retries the release
        logger.exception("release of the hold of ride %s failed; will retry", ride_id)


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
        from rides.services.finish import ride_charge

        ride_charge(ride=ride)
    elif ride is not None and ride.state == RideState.CANCELLED and command_id == ride.unlock_command_id:
        hold_release(ride.id)
    return ride


def _apply_command(ride_id: uuid.UUID, vehicle_id: uuid.UUID, command_id: uuid.UUID) -> Ride | None:
    with transaction.atomic():
        _, ride = lock_ride(ride_id, vehicle_id)
        command = Command.objects.get(id=command_id)
        acked = command.state == CommandState.ACKED
        if command.state not in FAILED and not acked:
            return ride
        if command.id in (ride.unlock_command_id, ride.lock_command_id):
            outcome = "acked" if acked else ("failed" if command.state == CommandState.FAILED else "timed_out")
            push_command(ride, command.kind, outcome)
        return _move_on(ride, command, acked)


def _move_on(ride: Ride, command: Command, acked: bool) -> Ride:
    """The ride's next state after its command closed. Caller holds the locks."""
    if ride.state == RideState.UNLOCKING and command.id == ride.unlock_command_id:
        if not acked:
            return ride_cancel_unlocking(ride=ride, reason=f"unlock_{command.state}")
        ride.state, ride.started_at = RideState.ACTIVE, command.acked_at or timezone.now()
        ride.save(update_fields=["state", "started_at"])
    elif ride.state == RideState.LOCKING and command.id == ride.lock_command_id:
        if acked:
            from rides.services.finish import finish_locked

            return finish_locked(ride=ride, at=command.acked_at or timezone.now())
        ride.state, ride.end_requested_at = RideState.ACTIVE, None  # not locked: the ride goes on
        ride.save(update_fields=["state", "end_requested_at"])
    elif ride.state == RideState.PAUSED and command.id == ride.lock_command_id and not acked:
        close_pause(ride, timezone.now())  # the vehicle did not lock: no pause rate for an unlocked vehicle
        ride.state = RideState.ACTIVE
        ride.save(update_fields=["state", "paused_at", "paused_seconds"])
    else:
        return ride
    push_updated(ride)
    return ride
