"""Reads for views and other apps: a rider's rides, the track as GeoJSON, distance, the MDS trip record."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from django.conf import settings
from django.db.models import QuerySet, Sum

from accounts.models import User
from fleet import geofence
from rides import errors
from rides.models import Ride, RideState, RideTrackPoint


def rider_spent_today(*, ride: Ride, now: datetime) -> Decimal:
    """What the ride's rider already paid today in its city (local midnight), other rides: the fare engine's daily
    cap counts it. The end of a ride and the live running cost both use it."""
    tz = ZoneInfo(ride.city.timezone)
    midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    spent = (Ride.objects.filter(rider_id=ride.rider_id, city_id=ride.city_id, state=RideState.ENDED,
                                 ended_at__gte=midnight).exclude(id=ride.id).aggregate(s=Sum("fare_total"))["s"])
    return spent or Decimal(0)


def rides_locking_by_vehicle(*, vehicle_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """``{vehicle_id: ride_id}`` of the rides ``locking`` (end requested, lock not answered) on these vehicles."""
    rides = Ride.objects.filter(vehicle_id__in=vehicle_ids, state=RideState.LOCKING).values_list("vehicle_id", "id")
    return dict(rides)


def ride_get_for_rider(*, rider: User, ride_id: uuid.UUID) -> Ride:
    """The rider's own ride; 404 for anyone else's (never reveal that it exists)."""
    ride = Ride.objects.filter(id=ride_id, rider=rider).select_related("vehicle", "vehicle_type", "city").first()
    if ride is None:
        raise errors.RideNotFound()
    return ride


def rides_for_rider(*, rider: User) -> QuerySet[Ride]:
    return Ride.objects.filter(rider=rider).select_related("vehicle", "vehicle_type", "city")


def _points(ride_id: uuid.UUID) -> list[tuple[float, float]]:
    return [(lon, lat) for lat, lon in RideTrackPoint.objects.filter(ride_id=ride_id).order_by("at")
            .values_list("lat", "lon")]


def track_distance_m(*, ride_id: uuid.UUID) -> int:
    """Length of the recorded track (great-circle between consecutive points, in time order)."""
    points = _points(ride_id)
    return round(sum(geofence.haversine_m(*a, *b) for a, b in zip(points, points[1:], strict=False)))


def track_geojson(*, ride_id: uuid.UUID) -> dict[str, Any] | None:
    """The track as a GeoJSON LineString simplified (Douglas-Peucker, ``RIDES_TRACK_SIMPLIFY_M``); None if < 2 points."""
    points = _points(ride_id)
    if len(points) < 2:
        return None
    line = shapely.LineString(points)
    tolerance_deg = settings.RIDES_TRACK_SIMPLIFY_M / 111_320.0  # metres to degrees of latitude; fine for display
    simple = shapely.simplify(line, tolerance_deg, preserve_topology=False)
    coords = [[round(x, 6), round(y, 6)] for x, y in simple.coords]
    return {"type": "LineString", "coordinates": coords}


def mds_trip(*, ride: Ride, request_base: str = "") -> dict[str, Any]:
    """The MDS trip record of an ended ride (times in ms since the epoch, as MDS wants)."""
    def ms(value: Any) -> int | None:
        return None if value is None else int(value.timestamp() * 1000)

    def point(lat: float | None, lon: float | None) -> dict[str, Any] | None:
        return None if lat is None or lon is None else {"type": "Point", "coordinates": [lon, lat]}

    photo = f"{request_base}{ride.parking_photo.url}" if ride.parking_photo else None
    return {
        "trip_id": str(ride.id), "device_id": str(ride.vehicle_id), "start_time": ms(ride.started_at),
        "end_time": ms(ride.ended_at), "start_location": point(ride.start_lat, ride.start_lon),
        "end_location": point(ride.end_lat, ride.end_lon), "duration": ride.duration_s, "distance": ride.distance_m,
        "parking_verification_url": photo,
    }
