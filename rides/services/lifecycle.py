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

from accounts.models import User
from billing import errors as billing_errors
from billing.services import rides as billing_rides
from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import ActorKind, Command, CommandKind, CommandState
from rides.models import OPEN_STATES, Ride, RideState
from rides.services.common import lock_ride, push_command, push_updated, require_state

logger = logging.getLogger(__name__)
FAILED = (CommandState.FAILED, CommandState.TIMED_OUT, CommandState.EXPIRED)
PAUSE, RESUME, END = "pause", "resume", "end"


def queue_command(ride: Ride, purpose: str, actor: User | None, now: datetime) -> uuid.UUID:
    """Queue the lock of a pause or an end, or the unlock of a resume. The key names the purpose, because a late
    answer is judged by it (only the lock of an end request ends the ride), and the attempt: each pause has its
    number, and an end requested again after its lock failed needs a fresh lock, so it is named by its time."""
    kind = CommandKind.UNLOCK if purpose == RESUME else CommandKind.LOCK
    attempt = f"{now:%Y%m%dT%H%M%S.%f}" if purpose == END else str(ride.pause_count + (purpose == PAUSE))
    command = fleet_services.command_queue(vehicle_id=ride.vehicle_id, kind=kind, actor=actor,
                                           idempotency_key=f"ride:{ride.id}:{purpose}:{attempt}")
    return command.id


def _purpose_of(ride: Ride, command: Command) -> str | None:
    """``pause``, ``resume`` or ``end`` for a command queued by ``queue_command`` for this ride; ``None`` otherwise."""
    prefix = f"ride:{ride.id}:"
    if not command.idempotency_key.startswith(prefix):
        return None
    purpose = command.idempotency_key[len(prefix):].split(":", 1)[0]
    return purpose if purpose in (PAUSE, RESUME, END) else None


def ride_pause(*, ride_id: uuid.UUID, rider: User | None = None) -> Ride:
    """Lock the vehicle (a ``lock`` command); the pause rate applies from now. ``rider``: must be theirs."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        require_state(ride, RideState.ACTIVE)
        now = timezone.now()
        ride.lock_command_id = queue_command(ride, PAUSE, rider, now)
        ride.state, ride.paused_at, ride.pause_count = RideState.PAUSED, now, ride.pause_count + 1
        ride.save(update_fields=["lock_command_id", "state", "paused_at", "pause_count"])
        push_updated(ride)
        return ride


def close_pause(ride: Ride, now: datetime) -> None:
    if ride.paused_at is not None:
        ride.paused_seconds += max(0, int((now - ride.paused_at).total_seconds()))
        ride.paused_at = None


def ride_resume(*, ride_id: uuid.UUID, rider: User | None = None) -> Ride:
    """Unlock the vehicle again (an ``unlock`` command); the riding rate applies. ``rider``: must be theirs."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        require_state(ride, RideState.PAUSED)
        now = timezone.now()
        ride.unlock_command_id = queue_command(ride, RESUME, rider, now)
        close_pause(ride, now)
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
        from rides.services.finish import ride_charge

        ride_charge(ride=ride)
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
            from rides.services.finish import finish_locked

            return finish_locked(ride=ride, at=command.acked_at or timezone.now())
        ride.state, ride.end_requested_at = RideState.ACTIVE, None  # not locked: the ride goes on
        ride.save(update_fields=["state", "end_requested_at"])
    elif (ride.state == RideState.ACTIVE and command.id == ride.lock_command_id and acked
          and _purpose_of(ride, command) == END):
        from rides.services.finish import finish_locked

        # The end's lock had timed out and the ride went on, but the vehicle did lock when the rider asked: the
        # lock command was queued in the end request's transaction, so its creation is the request's time.
        logger.info("ride %s: late lock acknowledgement, ended as requested at %s", ride.id, command.created_at)
        ride.end_requested_at = command.created_at
        return finish_locked(ride=ride, at=command.created_at)
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
