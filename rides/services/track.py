"""The ride's track: telemetry appends the positions of a vehicle on an open ride."""

from __future__ import annotations

import uuid
from datetime import datetime

from rides.models import Ride, RideState, RideTrackPoint

TRACKED = (RideState.ACTIVE, RideState.PAUSED, RideState.LOCKING)


def ride_track_append(*, vehicle_id: uuid.UUID, at: datetime, lat: float, lon: float) -> RideTrackPoint | None:
    """Record a position of ``vehicle_id`` if it is on a ride (telemetry calls this for every fix).

    Returns None when the vehicle has no ride being tracked. A duplicate fix (same ride, same instant) is ignored,
    so a redelivered telemetry message adds nothing.
    """
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    ride_id = Ride.objects.filter(vehicle_id=vehicle_id, state__in=TRACKED).values_list("id", flat=True).first()
    if ride_id is None:
        return None
    point = RideTrackPoint(ride_id=ride_id, at=at, lat=lat, lon=lon)
    RideTrackPoint.objects.bulk_create([point], ignore_conflicts=True)
    return point
