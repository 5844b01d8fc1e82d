"""Device readings (position, battery, speed...) that do not change the vehicle's status; telemetry calls this."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q

from fleet import grid
from fleet.models import Vehicle
from fleet.services.transitions import Location


def vehicle_record_reading(
    *,
    vehicle_id: uuid.UUID,
    at: datetime,
    location: Location | None = None,
    battery_pct: int | None = None,
    range_meters: int | None = None,
    speed_kph: float | None = None,
    odometer_meters: int | None = None,
    locked: bool | None = None,
) -> bool:
    """Store the latest reading in one conditional UPDATE (no row lock: cheap on every telemetry message).

    A reading with a location older than the stored position is ignored (out-of-order delivery must not move a vehicle back);
    returns whether it was stored.
    """
    fields: dict[str, Any] = {}
    stale = Q()
    if location is not None:
        cell = grid.cell_of(location.lat, location.lon)
        fields |= {"lat": location.lat, "lon": location.lon, "cell": cell, "position_at": at}
        stale = Q(position_at__isnull=True) | Q(position_at__lte=at)
    optional = {"battery_pct": battery_pct, "range_meters": range_meters, "speed_kph": speed_kph,
                "odometer_meters": odometer_meters, "locked": locked}
    fields |= {name: value for name, value in optional.items() if value is not None}
    if not fields:
        return False
    return Vehicle.objects.filter(stale, id=vehicle_id).update(**fields) == 1
