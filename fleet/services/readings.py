"""Device readings (position, battery, speed...) that do not change the vehicle's status; telemetry calls this."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from psycopg.types.datetime import TimestamptzLoader

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


@dataclass(frozen=True, slots=True)
class LatestReading:
    """The newest values a telemetry batch carries for one vehicle (``None``: not reported in the batch).

    ``position_at`` is the device time of ``lat``/``lon``; ``at`` the device time of the newest reading (the
    other fields); ``seen_at`` when the platform received it (liveness)."""

    vehicle_id: uuid.UUID
    at: datetime
    seen_at: datetime
    lat: float | None = None
    lon: float | None = None
    position_at: datetime | None = None
    battery_pct: int | None = None
    speed_kph: float | None = None
    odometer_meters: int | None = None
    locked: bool | None = None


@dataclass(frozen=True, slots=True)
class VehicleSnapshot:
    """A vehicle's row as it was just before ``vehicles_record_readings`` changed it."""

    vehicle_id: uuid.UUID
    city_id: uuid.UUID
    vehicle_type_code: str
    status: str
    trip_id: uuid.UUID | None
    lat: float | None
    lon: float | None
    position_at: datetime | None
    battery_pct: int | None
    locked: bool
    last_seen_at: datetime | None
    code: str = ""


# The batch's values go in by binary COPY into a temporary table (psycopg dumps these rows in C; array parameters
# for unnest() were dumped in Python, a tenth of a telemetry worker's time). ``batch`` tells this call's rows from
# rows an earlier call of the same transaction left (the table is emptied at commit).
_STAGE_SQL = """
CREATE TEMP TABLE IF NOT EXISTS fleet_reading_batch (
    batch bigint, id uuid, at timestamptz, seen_at timestamptz, lat float8, lon float8, cell int,
    position_at timestamptz, battery_pct int, speed_kph float8, odometer bigint, locked bool
) ON COMMIT DELETE ROWS
"""
_COPY_SQL = "COPY fleet_reading_batch FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ("int8", "uuid", "timestamptz", "timestamptz", "float8", "float8", "int4", "timestamptz", "int4",
               "float8", "int8", "bool")

# Then one statement for the whole batch. ``o`` is the same row read with the statement's snapshot, so RETURNING
# gives the values before the update (PostgreSQL 15 has no RETURNING OLD). Guards, per vehicle:
# - the position moves only forward in device time (a late or replayed message never moves a vehicle back);
# - the other fields follow the newest reading unless it is older than the stored position;
# - last_seen_at (server clock) only grows.
_RECORD_SQL = """
UPDATE fleet_vehicle AS v SET
    lat = CASE WHEN r.pos_fresh THEN r.lat ELSE v.lat END,
    lon = CASE WHEN r.pos_fresh THEN r.lon ELSE v.lon END,
    cell = CASE WHEN r.pos_fresh THEN r.cell ELSE v.cell END,
    position_at = CASE WHEN r.pos_fresh THEN r.position_at ELSE v.position_at END,
    battery_pct = CASE WHEN r.fresh THEN COALESCE(r.battery_pct, v.battery_pct) ELSE v.battery_pct END,
    speed_kph = CASE WHEN r.fresh THEN COALESCE(r.speed_kph, v.speed_kph) ELSE v.speed_kph END,
    odometer_meters = CASE WHEN r.fresh THEN COALESCE(r.odometer, v.odometer_meters) ELSE v.odometer_meters END,
    locked = CASE WHEN r.fresh THEN COALESCE(r.locked, v.locked) ELSE v.locked END,
    last_seen_at = GREATEST(v.last_seen_at, r.seen_at)
FROM (
    SELECT u.*, o.id AS oid,
           u.position_at IS NOT NULL AND (o.position_at IS NULL OR u.position_at > o.position_at) AS pos_fresh,
           (o.position_at IS NULL OR u.at >= o.position_at) AS fresh,
           o.code, o.city_id, o.vehicle_type_id, o.status, o.trip_id, o.lat AS olat, o.lon AS olon,
           o.position_at AS opos, o.battery_pct AS obat, o.locked AS olocked, o.last_seen_at AS oseen
    FROM fleet_reading_batch AS u JOIN fleet_vehicle AS o ON o.id = u.id
    WHERE u.batch = %s
) AS r, fleet_vehicletype AS t
WHERE v.id = r.oid AND t.id = r.vehicle_type_id
RETURNING r.oid, r.city_id, t.code, r.status, r.trip_id, r.olat, r.olon, r.opos, r.obat, r.olocked, r.oseen, r.code
"""


def vehicles_record_readings(*, readings: Sequence[LatestReading]) -> dict[uuid.UUID, VehicleSnapshot]:
    """Store the latest state of many vehicles in ONE UPDATE (telemetry batches; no status change here).

    At most one reading per vehicle. Returns each updated vehicle as it was before; unknown ids are skipped.
    Runs in the caller's transaction (or its own); the rows it updates stay locked until that commits.
    """
    if not readings:
        return {}
    batch = secrets.randbits(62)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # RETURNING gives two timestamps per vehicle, thousands a second: psycopg's own (C) loader instead of
        # Django's Python subclass, which only re-attaches the connection's time zone, already the session's,
        # and showed in a drainer's profile. This cursor only.
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(_STAGE_SQL)
        with cursor.cursor.copy(_COPY_SQL) as copy:  # psycopg 3 cursor: Django's wrapper has no copy()
            copy.set_types(_COPY_TYPES)
            for r in readings:
                cell = grid.cell_of(r.lat, r.lon) if r.lat is not None and r.lon is not None else None
                copy.write_row((batch, r.vehicle_id, r.at, r.seen_at, r.lat, r.lon, cell,
                                r.position_at if cell is not None else None, r.battery_pct, r.speed_kph,
                                r.odometer_meters, r.locked))
        cursor.execute(_RECORD_SQL, [batch])
        rows = cursor.fetchall()
    return {row[0]: VehicleSnapshot(*row) for row in rows}
