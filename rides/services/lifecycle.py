"""The ride's state machine after start: pause/resume, cancel (what the vehicle's answers do: ``outcomes``).

``unlocking -> active <-> paused``, ``active|paused -> locking -> ended``, ``unlocking -> cancelled``.
Every transition locks the vehicle, then the ride, and re-checks the state under the lock; an illegal one
raises ``RideStateConflict`` (409, ``details.state``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import errors as billing_errors
from billing.services import rides as billing_rides
from fleet import services as fleet_services
from fleet.models import ActorKind, CommandKind, CommandState
from rides.models import Ride, RideState
from rides.services.common import lock_ride, push_updated, require_state

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


def ride_pause(*, ride_id: uuid.UUID, rider: User | None = None) -> Ride:
    """Lock the vehicle (a ``lock`` command); the pause rate applies from now. ``rider``: must be theirs.
    A paused ride is returned as it is (a repeated tap, or a retry): no second lock."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        if ride.state == RideState.PAUSED:
            return ride
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
    """Unlock the vehicle again (an ``unlock`` command); the riding rate applies. ``rider``: must be theirs.
    An active ride is returned as it is (a repeated tap, or a retry): no second unlock."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id, rider=rider)
        if ride.state == RideState.ACTIVE:
            return ride
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
