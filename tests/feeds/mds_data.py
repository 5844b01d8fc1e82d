"""Data for the MDS feed tests: rides made through the fleet services at chosen times, so the event log, the rides
and the telemetry history agree as they do in production."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import Vehicle
from rides.models import Ride, RideState
from telemetry import storage

PROVIDER = "6f0a4a2e-5d43-4c1e-9b7a-3e1f0d2c9a51"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def past_hour(hours_ago: int = 3) -> datetime:
    """The start of the UTC hour ``hours_ago`` hours before this one."""
    return timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def hour_param(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H")


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def ride(vehicle: Vehicle, rider: Any, *, start: datetime, end: datetime | None = None, cancel: bool = False,
         distance_m: int = 1200, battery_pct: int = 80, end_point: tuple[float, float] = (52.53, 13.41)) -> Ride:
    """A ride on ``vehicle`` from ``start``: MDS ``trip_start`` then, at ``end``, ``trip_end`` (or ``trip_cancel``
    with ``cancel``); open when ``end`` is None."""
    ride = Ride.objects.create(rider=rider, vehicle=vehicle, vehicle_type_id=vehicle.vehicle_type_id,
                               city_id=vehicle.city_id, tariff={}, currency="EUR", start_lat=vehicle.lat,
                               start_lon=vehicle.lon, state=RideState.ACTIVE, started_at=None if cancel else start)
    Ride.objects.filter(id=ride.id).update(created_at=start)
    assert vehicle.lat is not None and vehicle.lon is not None
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=ride.id, at=start,
                              location=fleet_services.Location(lat=vehicle.lat, lon=vehicle.lon))
    if end is None:
        ride.refresh_from_db()
        return ride
    if cancel:
        fleet_services.trip_cancel(vehicle_id=vehicle.id, trip_id=ride.id, at=end)
        Ride.objects.filter(id=ride.id).update(state=RideState.CANCELLED, ended_at=end, cancel_reason="unlock_timeout")
    else:
        lat, lon = end_point
        fleet_services.trip_end(vehicle_id=vehicle.id, trip_id=ride.id, at=end, battery_pct=battery_pct,
                                location=fleet_services.Location(lat=lat, lon=lon))
        Ride.objects.filter(id=ride.id).update(
            state=RideState.ENDED, ended_at=end, end_lat=lat, end_lon=lon, distance_m=distance_m,
            duration_s=int((end - start).total_seconds()), fare_total=Decimal("2.50"))
    ride.refresh_from_db()
    return ride


def readings(vehicle_id: uuid.UUID, points: list[tuple[datetime, float, float]], *, first_seq: int = 1,
             battery_pct: int | None = 70) -> None:
    """Store readings in the telemetry history as the drainers do (COPY), one per (time, lat, lon)."""
    storage.ensure_partitions({at.date() for at, _, _ in points})
    rows = [(vehicle_id, first_seq + i, at, at, lat, lon, 5.0, 90.0, 18.0, battery_pct, False, 1000 + i, None,
             None, None) for i, (at, lat, lon) in enumerate(points)]
    storage.insert_skipping_duplicates(rows)
