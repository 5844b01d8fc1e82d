"""Ops and beat work: force-end, auto-end of stale rides, the sweep of unacknowledged commands."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from accounts.models import User
from fleet.models import Command, CommandState
from rides import conf
from rides.models import CityRideSettings, Ride, RideState
from rides.services.finish import ride_end_now, rides_charge_pending
from rides.services.lifecycle import FAILED, ride_command_closed

logger = logging.getLogger(__name__)


def ride_force_end(*, ride_id: uuid.UUID, actor: User, reason: str) -> Ride:
    """Ops: end a stuck ride (lost phone, vehicle offline) with a reason; unlocking rides are cancelled."""
    ride = ride_end_now(ride_id=ride_id, reason="ops", note=reason, actor=actor)
    logger.info("ride %s force-ended by %s: %s", ride.id, actor.pk, reason)
    return ride


def rides_sweep_commands(*, now: datetime | None = None) -> int:
    """Beat: apply command outcomes the after-commit hook missed, and give up on unlocks/locks past their TTL.

    An unlock not acknowledged within ``RIDES_UNLOCK_TTL_S`` cancels the ride (hold released, MDS trip_cancel);
    a lock (end) not acknowledged within ``RIDES_LOCK_TTL_S`` returns the ride to ``active``.
    """
    now = now or timezone.now()
    count = 0
    waiting = Ride.objects.filter(state__in=[RideState.UNLOCKING, RideState.LOCKING]).values_list(
        "state", "created_at", "end_requested_at", "unlock_command_id", "lock_command_id")
    for state, created, end_requested, unlock_id, lock_id in waiting:
        command_id = unlock_id if state == RideState.UNLOCKING else lock_id
        if command_id is None:
            continue
        since, ttl = (created, conf.UNLOCK_TTL_S) if state == RideState.UNLOCKING else (
            end_requested or created, conf.LOCK_TTL_S)
        if since < now - timedelta(seconds=ttl):
            _give_up(command_id)
        if Command.objects.filter(id=command_id, state__in=[CommandState.ACKED, *FAILED]).exists():
            ride_command_closed(command_id=command_id)
            count += 1
    return count


def _give_up(command_id: uuid.UUID) -> None:
    """The ride's TTL passed: close the command so a late delivery cannot unlock a vehicle we gave back."""
    Command.objects.filter(id=command_id, state__in=[CommandState.QUEUED, CommandState.SENDING, CommandState.SENT]) \
        .update(state=CommandState.TIMED_OUT, failure_reason="ride gave up waiting", finished_at=timezone.now())


def rides_auto_end(*, now: datetime | None = None) -> int:
    """Beat: end rides paused (locked) without movement for the city's limit, or past the maximum duration."""
    now = now or timezone.now()
    count = 0
    for ride in Ride.objects.filter(state__in=[RideState.ACTIVE, RideState.PAUSED]).select_related("city"):
        rules = CityRideSettings.objects.filter(city_id=ride.city_id).first() or CityRideSettings()
        stale = ride.state == RideState.PAUSED and ride.paused_at is not None and \
            ride.paused_at < now - timedelta(minutes=rules.stale_locked_minutes) and not _moved_since(ride)
        too_long = ride.created_at < now - timedelta(hours=rules.max_ride_hours)
        if stale or too_long:
            ride_end_now(ride_id=ride.id, reason="auto_stale" if stale else "auto_max_duration")
            logger.info("ride %s ended automatically (%s); rider %s to be notified", ride.id,
                        "stale" if stale else "max duration", ride.rider_id)
            count += 1
    return count


def _moved_since(ride: Ride) -> bool:
    return ride.paused_at is not None and ride.track.filter(at__gt=ride.paused_at).count() > 1


__all__ = ["ride_force_end", "rides_auto_end", "rides_charge_pending", "rides_sweep_commands"]
