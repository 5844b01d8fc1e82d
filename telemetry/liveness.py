"""Liveness: vehicles that stopped talking become MDS ``non_contactable``, then ``missing`` past the city's limit.

The beat task ``telemetry.tasks.liveness_sweep`` runs ``liveness_sweep`` every minute. One query finds the
silent vehicles of a run (``Vehicle.last_seen_at``, written by every telemetry batch); each one then moves
through ``fleet.services.vehicle_transition`` (so the MDS event log stays complete) in a savepoint of its own,
after re-checking under the row lock that it is still silent: a batch that committed in between wins.

Only parked vehicles are swept (MDS ``available`` and ``non_operational``). A vehicle in use (reserved, on a trip)
is left to the rides app: ``trip_end`` is not allowed from ``non_contactable``, so marking a ride's vehicle lost
during a tunnel would stop the rider from ending the ride. Vehicles that never reported (``last_seen_at`` empty)
and vehicles off the street (workshop, charging...) are not swept either. The way back (``comms_restored``) is
taken by the telemetry reactions when the vehicle speaks again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import ActorKind
from fleet.states import MdsState, Status, mds_state

logger = logging.getLogger(__name__)

PARKED = [s for s in Status.values if mds_state(s) in (MdsState.AVAILABLE, MdsState.NON_OPERATIONAL)]


def missing_after_by_city() -> dict[str, int]:
    """``TELEMETRY_MISSING_AFTER_S_BY_CITY`` ("berlin=43200,paris=7200") as {slug: seconds}."""
    limits: dict[str, int] = {}
    for item in settings.TELEMETRY_MISSING_AFTER_S_BY_CITY:
        slug, _, raw = item.partition("=")
        if not raw.strip().isdigit() or int(raw) < 60:
            raise ImproperlyConfigured(f"TELEMETRY_MISSING_AFTER_S_BY_CITY: {item!r} is not slug=seconds (>= 60)")
        limits[slug.strip()] = int(raw)
    return limits


@dataclass(frozen=True)
class Silence:
    """Last seen before ``before`` (before ``by_city[city_id]`` for the cities with a limit of their own)."""

    before: datetime
    by_city: dict[uuid.UUID, datetime] = field(default_factory=dict)


def _silent_past_missing_limit(now: datetime) -> Silence:
    """Silent longer than each city's limit (the default for cities without one of their own)."""
    limits = missing_after_by_city()
    default = now - timedelta(seconds=settings.TELEMETRY_MISSING_AFTER_S)
    if not limits:
        return Silence(default)
    city_ids = fleet_selectors.city_ids_by_slug(slugs=limits)
    return Silence(default, {city_id: now - timedelta(seconds=limits[slug]) for slug, city_id in city_ids.items()})


def _candidates(silence: Silence, statuses: Iterable[str], limit: int) -> list[uuid.UUID]:
    return fleet_selectors.vehicles_silent(before=silence.before, before_by_city=silence.by_city, statuses=statuses,
                                           limit=limit)


def _mark(vehicle_id: uuid.UUID, *, event: str, silence: Silence, statuses: list[str], now: datetime) -> bool:
    """Apply ``event`` if the vehicle, under its row lock, still matches; False when it spoke or moved meanwhile."""
    try:
        with transaction.atomic():
            fleet_services.lock_vehicle(vehicle_id)
            if not fleet_selectors.vehicle_is_silent(vehicle_id=vehicle_id, before=silence.before,
                                                     before_by_city=silence.by_city, statuses=statuses):
                return False
            fleet_services.vehicle_transition(
                vehicle_id=vehicle_id, event_types=[event], actor_kind=ActorKind.SYSTEM, at=now
            )
            return True
    except DomainError as exc:  # one vehicle's refusal must not stop the sweep
        logger.warning("liveness: %s refused for vehicle %s: %s", event, vehicle_id, exc)
        return False


def liveness_sweep(*, now: datetime | None = None, limit: int | None = None) -> dict[str, int]:
    """Mark silent vehicles; returns {"missing": n, "comms_lost": n}. Safe to run twice or concurrently."""
    now = now or timezone.now()
    limit = limit or settings.TELEMETRY_LIVENESS_BATCH
    counts = {"missing": 0, "comms_lost": 0}
    # Missing first: a parked vehicle silent past the city's limit (beat was down, say) goes there at once.
    gone = _silent_past_missing_limit(now)
    lost_or_parked = [Status.NON_CONTACTABLE, *PARKED]
    for vehicle_id in _candidates(gone, lost_or_parked, limit):
        counts["missing"] += _mark(vehicle_id, event="not_located", silence=gone, statuses=lost_or_parked, now=now)
    silent = Silence(now - timedelta(seconds=settings.TELEMETRY_COMMS_LOST_S))
    for vehicle_id in _candidates(silent, PARKED, limit):
        counts["comms_lost"] += _mark(vehicle_id, event="comms_lost", silence=silent, statuses=PARKED, now=now)
    if any(counts.values()):
        logger.info("liveness: %(comms_lost)d vehicles not contactable, %(missing)d missing", counts)
    return counts
