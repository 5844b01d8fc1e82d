"""Reads of the telemetry history for feeds: an hour of readings as MDS telemetry, streamed; is an hour drained.

The MDS Provider ``/telemetry`` of one hour of a 10,000-vehicle city is millions of readings, so they are read
through a server-side cursor in fetches of ``rows_per_fetch`` rows, and PostgreSQL builds each reading's JSON text
(in C, the JSON of millions of objects is much cheaper there than in Python): memory stays at one fetch.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Generator, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection, transaction

from telemetry import streams


class TripSpan(NamedTuple):
    """A trip on a vehicle: readings of the vehicle in ``[start, end]`` belong to it (``end`` None: still open)."""

    vehicle_id: uuid.UUID
    trip_id: uuid.UUID
    start: datetime
    end: datetime | None


# One MDS 2.0 telemetry object (models/telemetry.yaml) per reading with a position, written by concatenation (several
# times cheaper than json_build_object). ``telemetry_id`` is the one ``feeds.mds.records.telemetry_id``
# gives a vehicle's point (the first 96 bits of the vehicle's id and the 48-bit millisecond timestamp): stable across
# pulls and endpoints without a hash per point (md5 was the costliest part of the statement). Readings have millisecond
# times (ingest takes epoch ms), so rounding the double epoch is exact. ``journey_id`` is null (micromobility has no
# journeys), ``trip_ids`` null off-trip (trips grouped by vehicle: the planner then hashes them, not the hour's
# readings); speed km/h -> m/s; optional fields are left out when unknown.
_MDS_SQL = """
WITH trip AS (
    SELECT vehicle_id, array_agg(trip_id) AS ids, array_agg(started) AS starts, array_agg(ended) AS ends
      FROM unnest(%(t_vehicle)s::uuid[], %(t_trip)s::uuid[], %(t_start)s::timestamptz[],
                  %(t_end)s::timestamptz[]) AS t(vehicle_id, trip_id, started, ended)
     GROUP BY vehicle_id
)
SELECT '{"provider_id":"' || %(provider)s::text || '","device_id":"' || h.vehicle_id
    || '","telemetry_id":"' || left(h.vehicle_id::text, 24) || lpad(to_hex(m.ms), 12, '0')
    || '","timestamp":' || m.ms || ',"trip_ids":'
    || CASE WHEN t.ids IS NULL THEN 'null' ELSE coalesce(
           '["' || (SELECT x.id FROM unnest(t.ids, t.starts, t.ends) AS x(id, started, ended)
                    WHERE h.at >= x.started AND h.at <= x.ended LIMIT 1) || '"]', 'null') END
    || ',"journey_id":null,"location":{"lat":' || h.lat || ',"lng":' || h.lon
    || coalesce(',"heading":' || h.heading, '')
    || coalesce(',"speed":' || round(h.speed_kph::float8 * (100 / 3.6)) / 100, '')
    || coalesce(',"horizontal_accuracy":' || h.accuracy_m, '') || '}'
    || coalesce(',"battery_percent":' || h.battery_pct, '')
    || CASE WHEN 'tipped_over' = ANY(h.alarms) THEN ',"tipped_over":true' ELSE '' END || '}'
  FROM telemetry_reading h
  CROSS JOIN LATERAL (SELECT round(date_part('epoch', h.at) * 1000)::int8 AS ms) m
  LEFT JOIN trip t ON t.vehicle_id = h.vehicle_id
 WHERE h.at >= %(start)s AND h.at < %(end)s AND h.vehicle_id = ANY(%(vehicles)s::uuid[])
   AND h.lat IS NOT NULL AND h.lon IS NOT NULL
"""


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of uuids or ISO timestamps (neither needs quoting), cast in the SQL."""
    return "{" + ",".join(map(str, values)) + "}"


def mds_telemetry_json(*, provider_id: str, vehicle_ids: Sequence[uuid.UUID], start: datetime, end: datetime,
                       trips: Sequence[TripSpan], rows_per_fetch: int = 5000) -> Generator[list[str]]:
    """The readings of ``vehicle_ids`` with ``start <= at < end`` and a position, as MDS telemetry objects (JSON
    text), in lists of at most ``rows_per_fetch``; a reading inside one of ``trips`` carries its ``trip_ids``.

    A generator holding a transaction and a server-side cursor while it is consumed (close it to end both early).
    """
    params = {
        "provider": provider_id, "start": start, "end": end, "vehicles": _array(vehicle_ids),
        "t_vehicle": _array(t.vehicle_id for t in trips), "t_trip": _array(t.trip_id for t in trips),
        "t_start": _array(t.start.isoformat() for t in trips),
        "t_end": _array(t.end.isoformat() if t.end else "infinity" for t in trips),
    }
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        # A named (server-side) cursor without hold: rows are produced as they are fetched, inside this transaction.
        with raw.cursor(name=f"mds_telemetry_{secrets.token_hex(4)}") as cursor:
            cursor.execute(_MDS_SQL, params)
            while rows := cursor.fetchmany(rows_per_fetch):
                yield [row[0] for row in rows]


def history_drained_before(at: datetime) -> bool:
    """Every reading an edge accepted before ``at`` is in the history: no shard stream holds an entry older than
    ``at`` (entries are deleted once their batch committed; their ids are the Redis clock's milliseconds)."""
    client = streams.client()
    pipe = client.pipeline(transaction=False)
    before = int(at.timestamp() * 1000) - 1
    for shard in range(streams.shards()):
        pipe.xrange(streams.stream_key(shard), min="-", max=str(before), count=1)
    return not any(pipe.execute())


class HistorySample(NamedTuple):
    """One reading of a vehicle in one time bucket (``vehicle_history``); position and battery may be None."""

    at: datetime
    lat: float | None
    lon: float | None
    battery_pct: int | None
    speed_kph: float | None


# One reading per time bucket of ``step`` (date_bin) of one vehicle in a window: the one with the highest ``seq``
# (the device's counter, so normally the bucket's last). A vehicle's rows lie scattered over the day's pages (they
# arrive interleaved with every other vehicle's), so reading them all costs about one page per row, a day of a
# vehicle reporting every second tens of thousands of pages. Instead the buckets are chosen from the primary key alone (vehicle_id, seq, at: an index-only scan of the
# window's partitions, a few hundred pages), and only the chosen rows are fetched, by primary key: at most
# ``window / step`` of them whatever the reporting rate. Without the visibility map (rows not vacuumed yet) the
# index-only scan also visits those rows' pages, as the plain scan would.
_HISTORY_SQL = """
WITH picks AS MATERIALIZED (
    SELECT date_bin(make_interval(secs => %(step)s), at, %(since)s) AS bucket, max(seq) AS seq
      FROM telemetry_reading
     WHERE vehicle_id = %(vehicle)s AND at >= %(since)s AND at <= %(until)s
     GROUP BY 1
)
SELECT r.at, r.lat, r.lon, r.battery_pct, r.speed_kph
  FROM picks p
 CROSS JOIN LATERAL (
       SELECT at, lat, lon, battery_pct, speed_kph FROM telemetry_reading h
        WHERE h.vehicle_id = %(vehicle)s AND h.seq = p.seq
          AND h.at >= p.bucket AND h.at < p.bucket + make_interval(secs => %(step)s)
        LIMIT 1) r
 ORDER BY r.at
"""


def vehicle_history(*, vehicle_id: uuid.UUID, since: datetime, until: datetime,
                    max_points: int = 720) -> list[HistorySample]:
    """A vehicle's readings between ``since`` and ``until``, thinned to at most ``max_points`` (one reading of each
    equal time bucket, normally its last), oldest first: for a track on a map and a battery chart. Position and
    battery may be None in a sample (a reading without them)."""
    step = max((until - since) / max_points, timedelta(seconds=1))
    params: dict[str, Any] = {"step": step.total_seconds(), "since": since, "until": until, "vehicle": vehicle_id}
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner overestimates the buckets, and JIT-compiling the plan took longer than running it.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_HISTORY_SQL, params)
        return [HistorySample(*row) for row in cursor.fetchall()]
