"""Reads for the public GBFS feeds (``feeds.gbfs``): the vehicles a city shows to trip planners, and types.

Which vehicles are public is fleet's knowledge (statuses), so it lives here: vehicles on a trip (or on a trip
outside the jurisdiction) never appear, nor vehicles off the street (workshop, charging, rebalancing, impounded,
retired), nor those out of contact or without a position.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery

from fleet.models import Vehicle, VehicleEvent, VehicleType
from fleet.states import Status

# status -> (is_reserved, is_disabled) in GBFS. Off-hours vehicles are not "disabled": GBFS says is_disabled
# SHOULD NOT be true when the system is closed for vehicles that would otherwise be rentable.
PUBLIC_STATUSES: dict[str, tuple[bool, bool]] = {
    Status.AVAILABLE: (False, False),
    Status.RESERVED: (True, False),
    Status.OFF_HOURS: (False, False),
    Status.LOW_BATTERY: (False, True),
    Status.MAINTENANCE: (False, True),
    Status.SUSPENDED: (False, True),
}


@dataclass(frozen=True, slots=True)
class PublicVehicle:
    id: uuid.UUID
    vehicle_type_id: uuid.UUID
    lat: float
    lon: float
    is_reserved: bool
    is_disabled: bool
    battery_pct: int | None
    range_meters: int | None
    last_reported: datetime | None
    last_trip_id: uuid.UUID | None  # the latest trip started on it: what the public id rotates with


def public_vehicles(*, city_id: uuid.UUID, vehicle_type_ids: Iterable[uuid.UUID]) -> list[PublicVehicle]:
    """The city's vehicles of these types that GBFS ``vehicle_status`` shows, in no meaningful order.

    ``last_trip_id`` comes from the event log (the newest ``trip_start``, through the (vehicle, -timestamp)
    index): it changes exactly once per trip, so an id derived from it rotates after every trip and never
    while the vehicle stands still (a reservation does not rotate it).
    """
    last_trip = (VehicleEvent.objects.filter(vehicle_id=OuterRef("pk"), event_types__contains=["trip_start"])
                 .order_by("-timestamp").values("trip_id")[:1])
    rows = (Vehicle.objects.filter(city_id=city_id, vehicle_type_id__in=list(vehicle_type_ids),
                                   status__in=list(PUBLIC_STATUSES), lat__isnull=False, lon__isnull=False)
            .annotate(last_trip=Subquery(last_trip))
            .order_by()  # no order: one by a persistent key would let the feed link a vehicle's rotated ids
            .values_list("id", "vehicle_type_id", "status", "lat", "lon", "battery_pct", "range_meters",
                         "position_at", "last_trip"))
    return [
        PublicVehicle(id=vid, vehicle_type_id=type_id, lat=lat, lon=lon, is_reserved=PUBLIC_STATUSES[status][0],
                      is_disabled=PUBLIC_STATUSES[status][1], battery_pct=battery, range_meters=range_m,
                      last_reported=position_at, last_trip_id=last_trip)
        for vid, type_id, status, lat, lon, battery, range_m, position_at, last_trip in rows
        if lat is not None and lon is not None  # (the query excludes them; this tells the type checker)
    ]


def vehicle_types_by_id(*, ids: Iterable[uuid.UUID]) -> list[VehicleType]:
    """These vehicle types, by code."""
    return list(VehicleType.objects.filter(id__in=list(ids)).order_by("code"))
