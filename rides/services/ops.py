"""Ops and beat work: force-end, auto-end of stale rides, the sweep of unacknowledged commands."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import User
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import CommandKind, CommandState
from rides import errors
from rides.models import OPEN_STATES, Ride, RideState
from rides.services.common import city_settings, lock_ride
from rides.services.finish import ride_end_now, rides_charge_pending
from rides.services.lifecycle import END, FAILED, hold_release, ride_cancel_unlocking
from rides.services.outcomes import ride_command_closed

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)


def ride_force_end(*, ride_id: uuid.UUID, actor: User, reason: str) -> Ride:
    """Ops: end a stuck ride (lost phone, vehicle offline) with a reason; unlocking rides are cancelled."""
    ride = ride_end_now(ride_id=ride_id, reason="ops", note=reason, actor=actor)
    logger.info("ride %s force-ended by %s: %s", ride.id, actor.pk, reason)
    _notify_ended(ride, "ride_force_ended", _("Your ride was ended by our team"))
    return ride


def _notify_ended(ride: Ride, kind: str, title: StrOrPromise) -> None:
    """Texts in the rider's language (``notify`` renders them)."""
    minutes = round((ride.duration_s or 0) / 60)
    body: StrOrPromise
    if ride.state == RideState.CANCELLED:
        body = _("Your ride was cancelled before it started; nothing was charged.")
    elif ride.fare_total is None:
        body = format_lazy(_("Your ride ended after {minutes} min."), minutes=minutes)
    else:
        body = format_lazy(_("Your ride ended after {minutes} min. The fare is {amount} {currency}."),
                           minutes=minutes, amount=ride.fare_total, currency=ride.currency)
    account_services.notify(user_id=ride.rider_id, kind=kind, title=title, body=body,
                            data={"ride_id": str(ride.id), "state": ride.state, "end_reason": ride.end_reason,
                                  "cancel_reason": ride.cancel_reason})


def rides_sweep_commands(*, now: datetime | None = None) -> int:
    """Beat: apply command outcomes the after-commit hook missed, and give up on unlocks/locks past their TTL.

    An unlock not acknowledged within ``RIDES_UNLOCK_TTL_S`` cancels the ride (hold released, MDS trip_cancel);
    a lock (end) not acknowledged within ``RIDES_LOCK_TTL_S`` returns the ride to ``active``. Late answers
    whose announcement was missed are applied too (``_late_answers``).
    """
    now = now or timezone.now()
    count = 0
    waiting = Ride.objects.filter(state__in=[RideState.UNLOCKING, RideState.LOCKING]).values_list(
        "id", "state", "created_at", "end_requested_at", "unlock_command_id", "lock_command_id")
    for ride_id, state, created, end_requested, unlock_id, lock_id in waiting:
        command_id = unlock_id if state == RideState.UNLOCKING else lock_id
        if command_id is None:
            if state == RideState.UNLOCKING and created < now - timedelta(seconds=settings.RIDES_UNLOCK_TTL_S):
                count += _cancel_stalled_start(ride_id)
            continue
        since, ttl = (created, settings.RIDES_UNLOCK_TTL_S) if state == RideState.UNLOCKING else (
            end_requested or created, settings.RIDES_LOCK_TTL_S)
        if since < now - timedelta(seconds=ttl):
            _give_up(command_id)
        if fleet_selectors.command_state(command_id=command_id) in (CommandState.ACKED, *FAILED):
            ride_command_closed(command_id=command_id)
            count += 1
    return count + _late_answers(now)


def _late_answers(now: datetime) -> int:
    """Success answers that came after the ride had given up on them (``ride_command_closed`` acts on them when
    ``command_closed`` announces them; this catches a missed announcement): an active ride whose last lock is an
    end's lock the vehicle acknowledged, and a start cancelled in the last day whose unlock was acknowledged and
    whose vehicle got no re-lock (nor a new ride). Primary-key look-ups per active ride."""
    acked = fleet_selectors.commands_acked()
    ended = Ride.objects.filter(state=RideState.ACTIVE).filter(Exists(acked.filter(
        id=OuterRef("lock_command_id"), idempotency_key__startswith=Concat(
            Value("ride:"), Cast(OuterRef("id"), CharField()), Value(f":{END}:")))))
    relock_key = Concat(Value("ride:"), Cast(OuterRef("id"), CharField()), Value(":relock"))
    opened = Ride.objects.filter(state=RideState.CANCELLED, ended_at__gte=now - timedelta(days=1)).filter(
        Exists(acked.filter(id=OuterRef("unlock_command_id"), kind=CommandKind.UNLOCK))).exclude(
        Exists(fleet_selectors.commands_with_key(idempotency_key=relock_key))).exclude(  # a new ride holds it: not re-locked
        Exists(Ride.objects.filter(vehicle_id=OuterRef("vehicle_id"), state__in=OPEN_STATES)))
    count = 0
    for command_id in [*ended.values_list("lock_command_id", flat=True), *opened.values_list("unlock_command_id", flat=True)]:
        if command_id is None:  # not possible: the Exists above matched it
            continue
        try:
            ride_command_closed(command_id=command_id)
            count += 1
        except Exception:  # noqa: BLE001 - one ride's failure must not stop the sweep; the next run retries
            logger.exception("late answer %s: ride update failed", command_id)
    return count


def _cancel_stalled_start(ride_id: uuid.UUID) -> int:
    """A start that stopped between its claim and its unlock (a crashed process): cancel it, void any hold."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id)
        if ride.state != RideState.UNLOCKING or ride.unlock_command_id is not None:
            return 0
        ride_cancel_unlocking(ride=ride, reason="start_incomplete")
    hold_release(ride_id)
    return 1


def _give_up(command_id: uuid.UUID) -> None:
    """The ride's TTL passed: close the command so a late delivery cannot unlock a vehicle we gave back."""
    fleet_services.command_time_out(command_id=command_id, reason="ride gave up waiting")


def rides_auto_end(*, now: datetime | None = None) -> int:
    """Beat: end rides paused (locked) without movement for the city's limit, or past the maximum duration."""
    now = now or timezone.now()
    count = 0
    for ride in Ride.objects.filter(state__in=[RideState.ACTIVE, RideState.PAUSED]).select_related("city"):
        rules = city_settings(ride.city_id)
        stale = ride.state == RideState.PAUSED and ride.paused_at is not None and \
            ride.paused_at < now - timedelta(minutes=rules.stale_locked_minutes) and not _moved_since(ride)
        too_long = ride.created_at < now - timedelta(hours=rules.max_ride_hours)
        if stale or too_long:
            try:
                ended = ride_end_now(ride_id=ride.id, reason="auto_stale" if stale else "auto_max_duration")
            except errors.RideStateConflict:
                continue  # ended by the rider meanwhile
            logger.info("ride %s ended automatically (%s)", ride.id, ended.end_reason)
            _notify_ended(ended, "ride_auto_ended", _("Your ride was ended automatically"))
            count += 1
    return count


def _moved_since(ride: Ride) -> bool:
    return ride.paused_at is not None and ride.track.filter(at__gt=ride.paused_at).count() > 1


__all__ = ["ride_force_end", "rides_auto_end", "rides_charge_pending", "rides_sweep_commands"]
