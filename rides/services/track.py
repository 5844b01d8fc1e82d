"""The ride's track: telemetry appends the positions of vehicles on open rides, one fix or a whole batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection

from fleet.geofence.parking import EARTH_RADIUS_M
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


class TrackFix(NamedTuple):
    """One position of a ride's vehicle (``ride_id`` is the vehicle's MDS trip_id). A named tuple: telemetry
    builds thousands per batch, and a tuple is several times cheaper to create than a frozen dataclass."""

    ride_id: uuid.UUID
    at: datetime
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class RideProgress:
    ride_id: uuid.UUID
    rider_id: uuid.UUID
    distance_m: int  # running distance after this batch (``ride_end`` recomputes it from the whole track)
    added: int  # track points inserted by this call


# One statement per batch: the tracked rides among the fixes' rides, the INSERT of their fixes (duplicates
# skipped), and the UPDATE of each ride's running distance by the great-circle length of the points really
# inserted (from the vehicle's previous position), returning each ride's rider and new distance.
_APPEND = """
WITH fix AS (
    SELECT * FROM unnest(%(ride)s::uuid[], %(at)s::timestamptz[], %(lat)s::float8[],
                         %(lon)s::float8[])
        AS f(ride_id, at, lat, lon)
), ride AS (
    SELECT r.id FROM {ride} r WHERE r.id = ANY(%(rides)s::uuid[]) AND r.state = ANY(%(states)s::text[])
), ins AS (
    INSERT INTO {track} (ride_id, at, lat, lon)
    SELECT f.ride_id, f.at, f.lat, f.lon FROM fix f JOIN ride ON ride.id = f.ride_id
    ON CONFLICT (ride_id, at) DO NOTHING
    RETURNING ride_id, at, lat, lon
), pts AS (
    SELECT ride_id, at, lat, lon FROM ins
    UNION ALL
    SELECT o.ride_id, '-infinity'::timestamptz, o.lat, o.lon
      FROM unnest(%(origin)s::uuid[], %(origin_lat)s::float8[], %(origin_lon)s::float8[])
           AS o(ride_id, lat, lon)
      JOIN ride ON ride.id = o.ride_id
), steps AS (
    SELECT ride_id, at > '-infinity' AS new, lat, lon, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon
      FROM pts WINDOW w AS (PARTITION BY ride_id ORDER BY at)
), inc AS (
    SELECT ride_id, count(*) FILTER (WHERE new) AS added,
           coalesce(sum(2 * %(radius)s * asin(sqrt(least(1.0, sin(radians(lat - plat) / 2) ^ 2
               + cos(radians(plat)) * cos(radians(lat)) * sin(radians(lon - plon) / 2) ^ 2))))
               FILTER (WHERE plat IS NOT NULL), 0) AS d
      FROM steps GROUP BY ride_id
)
UPDATE {ride} r SET distance_m = coalesce(r.distance_m, 0) + round(inc.d)::int
  FROM inc WHERE r.id = inc.ride_id
RETURNING r.id, r.rider_id, r.distance_m, inc.added
"""


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of uuids, floats or ISO timestamps (none needs quoting), cast in the SQL: one
    string parameter is far cheaper to send than thousands of elements adapted one by one."""
    return "{" + ",".join(map(str, values)) + "}"  # uuid's str() has dashes: fine for uuid input


def ride_track_append_batch(
    *, fixes: Sequence[TrackFix], origins: Mapping[uuid.UUID, tuple[float, float]] | None = None
) -> dict[uuid.UUID, RideProgress]:
    """Append the fixes of rides being tracked (a duplicate (ride, instant) is skipped) and add the distance the
    new points cover to each ride's running ``distance_m``, in one statement. Telemetry calls this once per
    batch, inside the batch's transaction (so a rolled-back batch leaves nothing, and its retry counts once).

    ``origins`` is each ride's (lat, lon) before these fixes (the vehicle's previous position), where its
    distance starts. Fixes of rides not being tracked are dropped. Returns the progress of every tracked ride
    that had fixes. Lock order: the caller already holds the vehicle rows; the ride rows are locked after them,
    as everywhere in the rides app.
    """
    kept = _on_earth(fixes)
    if not kept:
        return {}
    origins = origins or {}
    starts = [ride for ride in dict.fromkeys(f.ride_id for f in kept) if ride in origins]
    return _track_statement(_APPEND, kept, origin=_array(starts),
                            origin_lat=_array(origins[r][0] for r in starts),
                            origin_lon=_array(origins[r][1] for r in starts))


def _on_earth(fixes: Sequence[TrackFix]) -> list[TrackFix]:
    return [f for f in fixes if -90.0 <= f.lat <= 90.0 and -180.0 <= f.lon <= 180.0]


def _track_statement(template: str, kept: Sequence[TrackFix], **extra: Any) -> dict[uuid.UUID, RideProgress]:
    """Run one of the track statements below on ``kept`` fixes; the progress of each ride it changed."""
    params: dict[str, Any] = {
        "ride": _array(f.ride_id for f in kept), "at": _array(f.at.isoformat() for f in kept),
        "lat": _array(f.lat for f in kept), "lon": _array(f.lon for f in kept),
        "rides": _array(dict.fromkeys(f.ride_id for f in kept)), "states": [str(s) for s in TRACKED],
        "radius": EARTH_RADIUS_M, **extra,
    }
    with connection.cursor() as cursor:
        cursor.execute(template.format(ride=Ride._meta.db_table, track=RideTrackPoint._meta.db_table), params)
        rows = cursor.fetchall()
    return {ride: RideProgress(ride, rider, distance or 0, added) for ride, rider, distance, added in rows}


# Late fixes (device time at or before the vehicle's last position: delayed by an outage, or sent again after a
# reconnect) go into the track where they belong in time, and the ride's running distance changes by the track's
# length with them minus its length without them (the points of each ride around them are in the snapshot; the
# inserted ones are in ``ins``). A fix before the ride started is not the ride's.
_INSERT_LATE = """
WITH fix AS (
    SELECT * FROM unnest(%(ride)s::uuid[], %(at)s::timestamptz[], %(lat)s::float8[],
                         %(lon)s::float8[])
        AS f(ride_id, at, lat, lon)
), ride AS (
    SELECT r.id, r.started_at FROM {ride} r
     WHERE r.id = ANY(%(rides)s::uuid[]) AND r.state = ANY(%(states)s::text[])
), ins AS (
    INSERT INTO {track} (ride_id, at, lat, lon)
    SELECT f.ride_id, f.at, f.lat, f.lon FROM fix f JOIN ride ON ride.id = f.ride_id
     WHERE ride.started_at IS NULL OR f.at >= ride.started_at
    ON CONFLICT (ride_id, at) DO NOTHING
    RETURNING ride_id, at, lat, lon
), old AS (
    SELECT t.ride_id, t.at, t.lat, t.lon FROM {track} t WHERE t.ride_id IN (SELECT ride_id FROM ins)
), pts AS (
    SELECT ride_id, at, lat, lon, false AS new FROM old
    UNION ALL
    SELECT ride_id, at, lat, lon, true FROM ins
), legs AS (
    SELECT ride_id, new, lat, lon, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon FROM pts
    WINDOW w AS (PARTITION BY ride_id ORDER BY at)
), old_legs AS (
    SELECT ride_id, lat, lon, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon FROM old
    WINDOW w AS (PARTITION BY ride_id ORDER BY at)
), all_legs AS (
    SELECT ride_id, 1 AS sign, new, lat, lon, plat, plon FROM legs
    UNION ALL
    SELECT ride_id, -1, false, lat, lon, plat, plon FROM old_legs
), inc AS (
    SELECT ride_id, count(*) FILTER (WHERE new) AS added,
           coalesce(sum(sign * 2 * %(radius)s * asin(sqrt(least(1.0, sin(radians(lat - plat) / 2) ^ 2
               + cos(radians(plat)) * cos(radians(lat)) * sin(radians(lon - plon) / 2) ^ 2))))
               FILTER (WHERE plat IS NOT NULL), 0) AS d
      FROM all_legs GROUP BY ride_id
)
UPDATE {ride} r SET distance_m = greatest(0, coalesce(r.distance_m, 0) + round(inc.d)::int)
  FROM inc WHERE r.id = inc.ride_id
RETURNING r.id, r.rider_id, r.distance_m, inc.added::int
"""


def ride_track_insert_late(*, fixes: Sequence[TrackFix]) -> dict[uuid.UUID, RideProgress]:
    """Insert fixes older than the vehicle's last position into their ride's track (a duplicate (ride, instant)
    and a fix before the ride started are skipped) and correct each ride's running ``distance_m`` for them: the
    length of the track with the new points minus its length without them, in one statement. Telemetry calls
    this for a batch's late readings, inside the batch's transaction, after ``ride_track_append_batch``. Returns
    the progress of every tracked ride that got a point."""
    kept = _on_earth(fixes)
    return _track_statement(_INSERT_LATE, kept) if kept else {}
