"""The ride's track: telemetry appends the positions of vehicles on open rides, one fix or a whole batch."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
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


@dataclass(frozen=True, slots=True)
class TrackFix:
    """One position of a ride's vehicle (``ride_id`` is the vehicle's MDS trip_id)."""

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


def _path_lengths(paths: Mapping[uuid.UUID, list[tuple[float, float]]]) -> dict[uuid.UUID, float]:
    """Great-circle length of each path (lat, lon points in order), vectorised over all paths at once."""
    rides = [ride for ride, points in paths.items() if len(points) > 1]
    if not rides:
        return {}
    coords = np.radians(np.array([point for ride in rides for point in paths[ride]], dtype=np.float64))
    owner = np.repeat(np.arange(len(rides)), [len(paths[ride]) for ride in rides])
    lat, lon = coords[:, 0], coords[:, 1]
    a = np.sin(np.diff(lat) / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    step = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
    same = owner[1:] == owner[:-1]  # no step from one ride's last point to the next ride's first
    totals = np.bincount(owner[1:][same], weights=step[same], minlength=len(rides))
    return dict(zip(rides, totals.tolist(), strict=True))


def ride_track_append_batch(
    *, fixes: Sequence[TrackFix], origins: Mapping[uuid.UUID, tuple[float, float]] | None = None
) -> dict[uuid.UUID, RideProgress]:
    """Append the fixes of rides being tracked (one INSERT; a duplicate (ride, instant) is ignored) and add the
    distance the new points cover to each ride's running ``distance_m`` (one UPDATE). Telemetry calls this once
    per batch, inside the batch's transaction (so a rolled-back batch leaves nothing, and its retry counts once).

    ``fixes`` are in time order per ride; ``origins`` is each ride's (lat, lon) before these fixes (the vehicle's
    previous position), where its distance starts. Fixes of rides not being tracked are dropped. Returns the
    progress of every tracked ride that had fixes. Lock order: the caller already holds the vehicle rows; the
    ride rows are locked after them, as everywhere in the rides app.
    """
    ride_ids = list(dict.fromkeys(fix.ride_id for fix in fixes))
    if not ride_ids:
        return {}
    riders = dict(Ride.objects.filter(id__in=ride_ids, state__in=TRACKED).values_list("id", "rider_id"))
    kept = [fix for fix in fixes if fix.ride_id in riders and -90.0 <= fix.lat <= 90.0 and -180.0 <= fix.lon <= 180.0]
    if not kept:
        return {}
    inserted = _insert(kept)
    paths: dict[uuid.UUID, list[tuple[float, float]]] = {}
    added: dict[uuid.UUID, int] = dict.fromkeys(riders, 0)
    for fix in kept:
        if (fix.ride_id, fix.at) not in inserted:
            continue
        path = paths.get(fix.ride_id)
        if path is None:
            origin = (origins or {}).get(fix.ride_id)
            path = paths[fix.ride_id] = [origin] if origin is not None else []
        path.append((fix.lat, fix.lon))
        added[fix.ride_id] += 1
    distances = _add_distance(_path_lengths(paths), list(riders))
    return {ride: RideProgress(ride, riders[ride], distances.get(ride, 0), added[ride])
            for ride in riders if ride in distances}


def _insert(fixes: Sequence[TrackFix]) -> set[tuple[uuid.UUID, datetime]]:
    table = RideTrackPoint._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (ride_id, at, lat, lon)"  # noqa: S608 - the table name is ours
            " SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::float8[], %s::float8[])"
            " ON CONFLICT (ride_id, at) DO NOTHING RETURNING ride_id, at",
            [[f.ride_id for f in fixes], [f.at for f in fixes], [f.lat for f in fixes], [f.lon for f in fixes]],
        )
        return {(ride_id, at) for ride_id, at in cursor.fetchall()}


def _add_distance(lengths: Mapping[uuid.UUID, float], ride_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Add the lengths to the rides' distance_m in one UPDATE (also for 0 m: returns every ride's distance)."""
    table = Ride._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS r SET distance_m = COALESCE(r.distance_m, 0) + v.d"  # noqa: S608
            " FROM unnest(%s::uuid[], %s::int[]) AS v(id, d) WHERE r.id = v.id RETURNING r.id, r.distance_m",
            [list(ride_ids), [round(lengths.get(ride, 0.0)) for ride in ride_ids]],
        )
        return dict(cursor.fetchall())
