"""Reads for the MDS Provider feed (``feeds.mds``): the vehicles of a set of cities, their last applied event.

Everything here is derived from the vehicle rows and their event log (``VehicleEvent``), never from bookkeeping of
the feed's own. ``city_ids`` is the caller's scope: a vehicle of another city is never returned.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, QuerySet, Subquery

from fleet import errors
from fleet.models import City, Vehicle, VehicleEvent
from fleet.states import STATUS_MDS_STATE, MdsState

# Statuses that are not "on the street" for MDS: a vehicle in them stays in /vehicles/status only for a while.
_OFF_STREET_STATES = (MdsState.ELSEWHERE, MdsState.REMOVED, MdsState.MISSING)
OFF_STREET_STATUSES = tuple(status for status, state in STATUS_MDS_STATE.items() if state in _OFF_STREET_STATES)
REMOVED_STATUSES = tuple(status for status, state in STATUS_MDS_STATE.items() if state == MdsState.REMOVED)


def cities_by_slug(*, slugs: Sequence[str]) -> list[City]:
    """The cities of these slugs; ``CityNotFound`` names the first unknown one."""
    found = {city.slug: city for city in City.objects.filter(slug__in=list(slugs))}
    for slug in slugs:
        if slug not in found:
            raise errors.CityNotFound(f"No city with slug {slug!r}.", slug=slug)
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _page(queryset: QuerySet[Vehicle], after: uuid.UUID | None, limit: int) -> list[Vehicle]:
    if after is not None:
        queryset = queryset.filter(id__gt=after)
    return list(queryset.order_by("id")[:limit])


def mds_vehicles(*, city_ids: Sequence[uuid.UUID], deployed_since: datetime, after: uuid.UUID | None = None,
                 limit: int = 1000) -> list[Vehicle]:
    """Vehicles deployed in these cities since ``deployed_since`` (MDS /vehicles: the last 30 days), by id.

    Deployed: on the street now (any MDS state but ``removed``), or with an event since then (a vehicle removed
    last week was deployed until then). A vehicle that never left the workshop is not listed.
    """
    queryset = (Vehicle.objects.select_related("vehicle_type").filter(city_id__in=city_ids)
                .filter(~Q(status__in=REMOVED_STATUSES) | Q(last_event_at__gte=deployed_since)))
    return _page(queryset, after, limit)


def mds_vehicle_get(*, city_ids: Sequence[uuid.UUID], vehicle_id: uuid.UUID) -> Vehicle:
    """Any vehicle of these cities, whenever it was deployed (MDS: every ``device_id`` of a feed resolves)."""
    try:
        return Vehicle.objects.select_related("vehicle_type").get(id=vehicle_id, city_id__in=city_ids)
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


@dataclass(frozen=True)
class MdsVehicleStatus:
    vehicle: Vehicle
    last_event: VehicleEvent


def mds_vehicles_status(*, city_ids: Sequence[uuid.UUID], now: datetime, off_street_for: timedelta,
                        after: uuid.UUID | None = None, limit: int = 1000,
                        vehicle_id: uuid.UUID | None = None) -> list[MdsVehicleStatus]:
    """Vehicles of these cities with their last applied event (MDS /vehicles/status), by id.

    Vehicles in ``elsewhere``, ``removed`` or ``missing`` are kept for ``off_street_for`` after the event that put
    them there, then left out. A vehicle with no event or no reported position has no status record to give (MDS
    requires ``last_event`` and ``last_telemetry`` with a location) and is left out too.

    Two queries per page. The last event of each vehicle is found by a correlated subquery (one probe of the
    ``(vehicle, -timestamp)`` index per vehicle, stopping at the first applied event), not by sorting every event
    of the page's vehicles: a vehicle collects thousands of events over its life.
    """
    queryset = (Vehicle.objects.filter(city_id__in=city_ids, last_event_at__isnull=False, lat__isnull=False)
                .filter(~Q(status__in=OFF_STREET_STATUSES) | Q(last_event_at__gte=now - off_street_for)))
    if vehicle_id is not None:
        queryset = queryset.filter(id=vehicle_id)
    last_event = (VehicleEvent.objects.filter(vehicle_id=OuterRef("id"), applied=True)
                  .order_by("-timestamp", "-recorded_at").values("id")[:1])
    vehicles = _page(queryset.annotate(mds_last_event_id=Subquery(last_event)), after, limit)
    event_ids = {v.id: v.mds_last_event_id for v in vehicles}  # type: ignore[attr-defined]  # the annotation
    events = VehicleEvent.objects.in_bulk([event_id for event_id in event_ids.values() if event_id is not None])
    return [MdsVehicleStatus(vehicle=v, last_event=events[event_ids[v.id]])
            for v in vehicles if event_ids[v.id] in events]
