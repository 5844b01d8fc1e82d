"""Reads of the vehicle event log for feeds (MDS Provider ``/events``), and what a city runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from fleet.models import City, Vehicle, VehicleEvent

EVENT_FIELDS = ("id", "vehicle_id", "vehicle_state", "event_types", "previous_status", "timestamp", "recorded_at",
                "battery_pct", "trip_id")


def _last_position(field: str) -> Subquery:
    """The vehicle's position at its latest earlier event that had one (events such as ``trip_cancel`` or
    ``reservation_start`` carry none, yet MDS requires a location on every event)."""
    earlier = (VehicleEvent.objects.filter(vehicle_id=OuterRef("vehicle_id"), timestamp__lte=OuterRef("timestamp"),
                                           lat__isnull=False).order_by("-timestamp").values(field)[:1])
    return Subquery(earlier)


def city_events_between(*, city_ids: Sequence[uuid.UUID], start: datetime, end: datetime,
                        after: tuple[datetime, uuid.UUID] | None = None) -> QuerySet[VehicleEvent, Any]:
    """The cities' vehicle events with ``start <= timestamp < end`` in the order they happened (ties by id), after
    the key ``(timestamp, id)`` ``after`` (keyset pages), as dicts of ``EVENT_FIELDS`` plus
    ``location_lat``/``location_lon``. An event without a position gets the one of the vehicle's latest earlier event
    that had one, else the vehicle's current position (still None for a vehicle never located)."""
    events = VehicleEvent.objects.filter(vehicle__city_id__in=city_ids, timestamp__gte=start, timestamp__lt=end)
    if after is not None:
        events = events.filter(Q(timestamp__gt=after[0]) | Q(timestamp=after[0], id__gt=after[1]))
    return (events.order_by("timestamp", "id")
            .values(*EVENT_FIELDS,
                    location_lat=Coalesce(F("lat"), _last_position("lat"), F("vehicle__lat")),
                    location_lon=Coalesce(F("lon"), _last_position("lon"), F("vehicle__lon"))))


def city_operated_before(*, city_ids: Sequence[uuid.UUID], before: datetime) -> bool:
    """One of the cities had a vehicle event before ``before`` (its first vehicle was deployed): an hour or month
    ending later was operated. An EXISTS, so a past hour stops at the first old event found."""
    return VehicleEvent.objects.filter(vehicle__city_id__in=city_ids, timestamp__lt=before).exists()


def city_vehicle_ids(*, city_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return list(Vehicle.objects.filter(city_id__in=city_ids).values_list("id", flat=True))


def city_form_factors(*, city_ids: Sequence[uuid.UUID]) -> list[str]:
    """The form factors (MDS ``vehicle_type``) of the cities's vehicles, sorted."""
    return sorted(set(Vehicle.objects.filter(city_id__in=city_ids).values_list("vehicle_type__form_factor", flat=True)))


def city_timezones(*, city_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, str]]:
    """``(id, IANA time zone)`` of each city, by slug."""
    return list(City.objects.filter(id__in=city_ids).order_by("slug").values_list("id", "timezone"))


def vehicle_events_recent(*, vehicle_id: uuid.UUID, limit: int) -> list[VehicleEvent]:
    """The vehicle's newest events with who caused them (index vehicleevent_vehicle_ts)."""
    return list(VehicleEvent.objects.filter(vehicle_id=vehicle_id).select_related("actor")
                .order_by("-timestamp", "-recorded_at")[:limit])
