"""Reads for views and other apps: a rider's rides, the track as GeoJSON, distance, the MDS trip record."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import shapely
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Trunc

from accounts.models import User
from fleet import geofence
from fleet import selectors as fleet_selectors
from fleet.models import Command
from fleet.models.commands import OPEN_STATES as COMMAND_OPEN_STATES
from fleet.selectors import zones as zone_selectors
from rides import errors
from rides.models import OPEN_STATES, ProblemReport, Reservation, Ride, RideState, RideTrackPoint


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


def ride_open_for_vehicle(*, vehicle_id: uuid.UUID) -> Ride | None:
    """The vehicle's open ride (unlocking, active, paused or locking), if any: at most one (a unique constraint)."""
    return Ride.objects.filter(vehicle_id=vehicle_id, state__in=OPEN_STATES).select_related("rider").first()


def _command_state(field: str) -> Subquery:
    return Subquery(Command.objects.filter(id=OuterRef(field)).values("state")[:1])


def _with_status(rides: QuerySet[Ride]) -> QuerySet[Ride]:
    """What the ride's status answer needs, in the same query: its vehicle and type, and the states of its unlock
    and lock commands (``unlock_command_state``, ``lock_command_state``: two primary-key subqueries)."""
    return rides.select_related("vehicle", "vehicle_type").annotate(
        unlock_command_state=_command_state("unlock_command_id"), lock_command_state=_command_state("lock_command_id"))


def ride_command_pending(ride: Ride) -> bool:
    """The ride waits for its vehicle: unlocking or locking, or the lock of its pause or the unlock of its resume
    not answered yet. Needs ``_with_status``'s annotations."""
    if ride.state in (RideState.UNLOCKING, RideState.LOCKING):
        return True
    command_state = {RideState.PAUSED: getattr(ride, "lock_command_state", None),
                     RideState.ACTIVE: getattr(ride, "unlock_command_state", None)}.get(RideState(ride.state))
    return command_state in COMMAND_OPEN_STATES


def ride_status_get(*, user: User, ride_id: uuid.UUID) -> Ride:
    """``ride_get_for_viewer`` in one query, with what the status answer needs (``_with_status``)."""
    rides = _with_status(Ride.objects.filter(id=ride_id))
    if user.is_staff and user.has_perm("rides.view_ride"):
        # Staff see the rides of their cities, and their own (as ride_get_for_viewer).
        rides = fleet_selectors.staff_scope(rides, user=user, path="city") | rides.filter(rider=user)
    else:
        rides = rides.filter(rider=user)
    ride = rides.first()
    if ride is None:
        raise errors.RideNotFound()
    return ride


def ride_open_for_rider(*, rider: User) -> Ride | None:
    """The rider's open ride (at most one: a unique constraint), with what the status answer needs."""
    return _with_status(Ride.objects.filter(rider=rider, state__in=OPEN_STATES)).first()


def track_stamp(*, ride_id: uuid.UUID) -> tuple[int, datetime | None]:
    """How many points the ride's track has and the newest one's time (index ridetrack_ride_at): what its ETag
    is built on (points are appended while the ride is open, never changed)."""
    stamp = RideTrackPoint.objects.filter(ride_id=ride_id).aggregate(n=Count("id"), last=Max("at"))
    return stamp["n"], stamp["last"]


def _reservations(rider: User) -> QuerySet[Reservation]:
    return Reservation.objects.filter(rider=rider).select_related("vehicle__vehicle_type", "ride")


def reservations_for_rider(*, rider: User, state: str | None = None) -> QuerySet[Reservation]:
    """The rider's reservations (newest first by the cursor pagination), of one state if given."""
    reservations = _reservations(rider)
    return reservations.filter(state=state) if state else reservations


def reservation_get_for_rider(*, rider: User, reservation_id: uuid.UUID) -> Reservation:
    """The rider's own reservation; 404 for anyone else's (never reveal that it exists)."""
    reservation = _reservations(rider).filter(id=reservation_id).first()
    if reservation is None:
        raise errors.ReservationNotFound()
    return reservation


def reservation_active_for_rider(*, rider: User) -> Reservation | None:
    """The rider's active reservation (at most one: a unique constraint)."""
    return _reservations(rider).filter(state=Reservation.State.ACTIVE).first()


def ride_get_for_rider(*, rider: User, ride_id: uuid.UUID) -> Ride:
    """The rider's own ride; 404 for anyone else's (never reveal that it exists)."""
    ride = Ride.objects.filter(id=ride_id, rider=rider).select_related("vehicle", "vehicle_type", "city").first()
    if ride is None:
        raise errors.RideNotFound()
    return ride


def ride_get_for_viewer(*, user: User, ride_id: uuid.UUID) -> Ride:
    """The access gate of a ride read: the rider's own ride, or a ride of their cities for staff holding
    ``rides.view_ride`` (support reads a rider's ride with the admin's token); 404 for anyone else (never reveal
    that it exists)."""
    if not (user.is_staff and user.has_perm("rides.view_ride")):
        return ride_get_for_rider(rider=user, ride_id=ride_id)
    rides = Ride.objects.filter(id=ride_id).select_related("vehicle", "vehicle_type", "city")
    # Staff see the rides of their cities, and their own (a Berlin agent rides in Hamburg too).
    ride = (fleet_selectors.staff_scope(rides, user=user, path="city") | rides.filter(rider=user)).first()
    if ride is None:
        raise errors.RideNotFound()
    return ride


def ride_staff_check(*, user: User, ride_id: uuid.UUID) -> None:
    """``RideNotFound`` (404) unless the ride is in one of the staff member's cities: the gate of a staff action on
    a ride (force-end) through the API."""
    fleet_selectors.staff_row_check(user=user, model=Ride, pk=ride_id, path="city", error=errors.RideNotFound)


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: datetime) -> int:
    """Integer milliseconds since the epoch, exact (MDS timestamps)."""
    return (value - _EPOCH) // timedelta(milliseconds=1)


def mds_trip(*, ride: Ride, provider_id: str | None = None, request_base: str = "") -> dict[str, Any]:
    """The MDS 2.0 trip record of a closed ride (models/trip.yaml, micromobility): times in integer ms since the
    epoch, ``duration`` in seconds, ``distance`` in metres, locations as MDS GPS objects (``lat``/``lng``).

    A start cancelled before the unlock (MDS ``trip_cancel``) is a trip of no distance from its claim to its
    cancellation, at its start point. ``provider_id`` (the operator's MDS id) is left out when not given (the
    rider's own ride detail)."""
    start = trip_start_time(ride)
    end = ride.ended_at or start
    start_location = {"lat": ride.start_lat, "lng": ride.start_lon} if ride.start_lat is not None else None
    end_location = {"lat": ride.end_lat, "lng": ride.end_lon} if ride.end_lat is not None else start_location
    trip: dict[str, Any] = {
        "device_id": str(ride.vehicle_id), "trip_id": str(ride.id), "trip_type": ["rider"],
        "start_time": _ms(start), "end_time": _ms(end), "start_location": start_location or end_location,
        "end_location": end_location, "duration": max(0, int((end - start).total_seconds())),
        "distance": (ride.distance_m or 0) if ride.state == RideState.ENDED else 0,
        "currency": ride.currency,
    }
    if ride.state == RideState.ENDED and ride.fare_total is not None:
        trip["actual_cost"] = int((ride.fare_total * 100).to_integral_value())
    if ride.parking_photo:
        trip["parking_verification_url"] = f"{request_base}{ride.parking_photo.url}"
    if provider_id is not None:
        trip = {"provider_id": provider_id, **trip}
    return trip


# --- Reads for the MDS Provider feeds (feeds.mds): trips are rides, keyed by when they closed ---------------------

CLOSED_STATES = (RideState.ENDED, RideState.CANCELLED)


def rides_closed_between(*, city_ids: Sequence[uuid.UUID], start: datetime, end: datetime) -> QuerySet[Ride]:
    """Rides of the cities that ended or were cancelled in ``[start, end)``, oldest first. Cancelled rides count: the
    vehicle was ``on_trip`` from its claim (MDS ``trip_start``) to its ``trip_cancel``, whose ``trip_ids`` must
    resolve to a trip."""
    return (Ride.objects.filter(city_id__in=city_ids, state__in=CLOSED_STATES, ended_at__gte=start, ended_at__lt=end)
            .select_related("vehicle_type").order_by("ended_at", "id"))


def ride_open_created_between(*, city_ids: Sequence[uuid.UUID], start: datetime, end: datetime) -> bool:
    """A ride of the cities created in ``[start, end)`` is still open: its MDS ``trip_start`` is in that hour but its
    trip is not served yet."""
    return Ride.objects.filter(city_id__in=city_ids, state__in=OPEN_STATES, created_at__gte=start,
                               created_at__lt=end).exists()


def ride_end_pending_before(*, city_ids: Sequence[uuid.UUID], before: datetime) -> bool:
    """A ride of the cities asked to end before ``before`` is still waiting for its lock: it may yet end with an
    ``ended_at`` before ``before`` (the lock command's time, ``rides.services.lifecycle``)."""
    return Ride.objects.filter(city_id__in=city_ids, state=RideState.LOCKING, end_requested_at__lt=before).exists()


def trip_start_time(ride: Ride) -> datetime:
    """When the MDS trip starts: the unlock the vehicle acknowledged, or its claim for a start never unlocked."""
    return ride.started_at or ride.created_at


class TripInterval(NamedTuple):
    vehicle_id: uuid.UUID
    trip_id: uuid.UUID
    start: datetime
    end: datetime | None  # None: still open
    start_lat: float | None
    start_lon: float | None
    end_lat: float | None
    end_lon: float | None


def trip_intervals_overlapping(*, city_ids: Sequence[uuid.UUID], start: datetime,
                               end: datetime) -> list[TripInterval]:
    """The trips of the cities (every ride, open or closed; a start cancelled before its unlock is a trip from its
    claim to its cancellation) whose time overlaps ``[start, end)``: the vehicle's telemetry then is the trip's."""
    rides = (Ride.objects.filter(city_id__in=city_ids, created_at__lt=end)
             .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
             .values_list("vehicle_id", "id", "started_at", "created_at", "ended_at", "start_lat", "start_lon",
                          "end_lat", "end_lon"))
    return [TripInterval(vehicle, ride, started or created, ended, *points)
            for vehicle, ride, started, created, ended, *points in rides]


def ride_counts_by_form_factor(*, city_ids: Sequence[uuid.UUID], start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """``{form_factor: (trips, distinct riders)}`` of the cities's rides that started in ``[start, end)`` and ended
    (cancelled starts are not trips taken): the MDS monthly report's counts."""
    rows = (Ride.objects.filter(city_id__in=city_ids, state=RideState.ENDED, started_at__gte=start, started_at__lt=end)
            .values("vehicle_type__form_factor")
            .annotate(trips=Count("id"), riders=Count("rider_id", distinct=True)))
    return {row["vehicle_type__form_factor"]: (row["trips"], row["riders"]) for row in rows}


class RideHourStats(NamedTuple):
    """Rides of one city closed in one hour: ``rides`` ended (with their summed duration and distance) and
    ``failed_unlocks`` (cancelled before the vehicle ever unlocked)."""

    rides: int
    duration_s: int
    distance_m: int
    failed_unlocks: int


def ride_stats_by_hour(*, city_id: uuid.UUID, timezone: str, start: datetime,
                       end: datetime) -> dict[datetime, RideHourStats]:
    """``{start of the city's local hour: stats}`` of the rides closed in ``[start, end)``, counted in the hour they
    ended (their duration, distance and fare are known then). Hours without a closed ride are left out."""
    hours = (Ride.objects.filter(city_id=city_id, state__in=CLOSED_STATES, ended_at__gte=start, ended_at__lt=end)
             .annotate(hour=Trunc("ended_at", "hour", tzinfo=ZoneInfo(timezone))).values("hour")
             .annotate(rides=Count("id", filter=Q(state=RideState.ENDED)),
                       duration_s=Sum("duration_s", filter=Q(state=RideState.ENDED), default=0),
                       distance_m=Sum("distance_m", filter=Q(state=RideState.ENDED), default=0),
                       failed=Count("id", filter=Q(state=RideState.CANCELLED, started_at__isnull=True))))
    return {row["hour"]: RideHourStats(row["rides"], row["duration_s"], row["distance_m"], row["failed"])
            for row in hours}


def rides_open_count(*, city_id: uuid.UUID) -> int:
    """Rides of the city now open (unlocking, active, paused or locking); at most one per vehicle."""
    return Ride.objects.filter(city_id=city_id, state__in=OPEN_STATES).count()


class TrackPoint(NamedTuple):
    at: datetime
    lat: float
    lon: float


# The last point of each equal time bucket of the ride (date_bin): a ride of hours at 1 Hz is tens of thousands of
# points; a map needs a few thousand. Read by the index ridetrack_ride_at.
_TRACK_SQL = """
SELECT DISTINCT ON (bucket) at, lat, lon
  FROM (SELECT date_bin(make_interval(secs => %(step)s), at, %(origin)s) AS bucket, at, lat, lon
          FROM rides_ridetrackpoint WHERE ride_id = %(ride)s) p
 ORDER BY bucket, at DESC
"""


def ride_track_points(*, ride: Ride, max_points: int = 2000) -> list[TrackPoint]:
    """The ride's track in time order, thinned to about ``max_points`` (the last point of each time bucket)."""
    first = ride.started_at or ride.created_at
    last = ride.ended_at or datetime.now(UTC)
    step = max((last - first) / max_points, timedelta(seconds=1))
    origin = first - timedelta(days=1)  # before every point: a bucket never straddles the origin
    with connection.cursor() as cursor:
        cursor.execute(_TRACK_SQL, {"step": step.total_seconds(), "origin": origin, "ride": ride.id})
        return [TrackPoint(*row) for row in cursor.fetchall()]


class ZoneCrossing(NamedTuple):
    at: datetime
    lat: float
    lon: float
    zone_id: str
    zone_name: str
    zone_kind: str
    entered: bool  # False: left


def ride_zone_crossings(*, ride: Ride, points: Sequence[TrackPoint]) -> tuple[list[str], list[ZoneCrossing]]:
    """The zones the ride started in, and where it entered or left a zone along ``points`` (consecutive points
    compared: a crossing is placed at the first point on its far side).

    Judged against the city's zones as they are now (active ones, with their schedules at the ride's start): a zone
    changed since the ride may show crossings the rider did not see then.
    """
    if not points:
        return [], []
    compiled = zone_selectors.geofence_for_city(ride.city_id)
    at = ride.started_at or ride.created_at
    verdicts = compiled.evaluate_batch([p.lon for p in points], [p.lat for p in points], ride.vehicle_type.code, at)
    specs = {spec.id: spec for spec in compiled.zones}
    crossings: list[ZoneCrossing] = []
    for point, before, after in zip(points[1:], verdicts, verdicts[1:], strict=False):
        change = compiled.zone_transitions(before.zone_ids, after.zone_ids)
        for zone_id, entered in [*((z, False) for z in change.exited), *((z, True) for z in change.entered)]:
            spec = specs[zone_id]
            crossings.append(ZoneCrossing(point.at, point.lat, point.lon, zone_id, spec.name, spec.kind, entered))
    return list(verdicts[0].zone_ids), crossings


def zones_geojson(*, city_id: uuid.UUID, zone_ids: Sequence[str]) -> dict[str, Any]:
    """The named active zones of a city as a GeoJSON FeatureCollection (name and kind in the properties)."""
    wanted = set(zone_ids)
    features = [{"type": "Feature", "geometry": spec.geometry,
                 "properties": {"id": spec.id, "name": spec.name, "kind": spec.kind}}
                for spec in zone_selectors.geofence_for_city(city_id).zones if spec.id in wanted]
    return {"type": "FeatureCollection", "features": features}


def rides_of_vehicle(*, vehicle_id: uuid.UUID, limit: int = 20) -> list[Ride]:
    """The vehicle's newest rides (index ride_vehicle_created), with their riders."""
    return list(Ride.objects.filter(vehicle_id=vehicle_id).select_related("rider").order_by("-created_at")[:limit])


def ride_ids_existing(*, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these ids are rides (a vehicle event's trip id may also be a reservation's)."""
    return set(Ride.objects.filter(id__in=ids).values_list("id", flat=True))


def rides_of_rider(*, rider_id: Any, limit: int = 20) -> list[Ride]:
    """The rider's newest rides, with their vehicles (for support's rider page)."""
    return list(Ride.objects.filter(rider_id=rider_id).select_related("vehicle", "city")
                .order_by("-created_at")[:limit])


def problem_reports_of_rider(*, rider_id: Any, limit: int = 20) -> list[ProblemReport]:
    """Problems the rider reported at the end of their rides, newest first."""
    return list(ProblemReport.objects.filter(ride__rider_id=rider_id).select_related("ride__vehicle")
                .order_by("-created_at")[:limit])


def rides_search(*, text: str, limit: int = 50) -> list[Ride]:
    """Rides a staff search for ``text`` finds: the ride with that id, or the rides of the vehicle with that code
    (case-insensitive), newest first; ``[]`` for anything else."""
    text = text.strip()
    try:
        ride_id = uuid.UUID(text)
    except ValueError:
        ride_id = None
    rides = Ride.objects.filter(id=ride_id) if ride_id is not None else \
        Ride.objects.filter(vehicle__code__iexact=text) if text else Ride.objects.none()
    return list(rides.select_related("rider", "vehicle", "city").order_by("-created_at")[:limit])
