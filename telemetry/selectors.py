"""Reads of the telemetry history for feeds: an hour of readings as MDS telemetry, streamed; is an hour drained.

The MDS Provider ``/telemetry`` of one hour of a 10,000-vehicle city is millions of readings, so they are read
through a server-side cursor in fetches of ``rows_per_fetch`` rows, and PostgreSQL builds each reading's JSON text
(in C, the JSON of millions of objects is much cheaper there than in Python): memory stays at one fetch.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction

from telemetry import streams


class TripSpan(NamedTuple):
    """A trip on a vehicle: readings of the vehicle in ``[start, end]`` belong to it (``end`` None: still open)."""

    vehicle_id: uuid.UUID
    trip_id: uuid.UUID
    start: datetime
    end: datetime | None


# One MDS 2.0 telemetry object (models/telemetry.yaml) per reading with a position. ``telemetry_id`` is derived
# from the reading's unique (vehicle, seq), so it is stable across pulls; ``journey_id`` is null (micromobility
# has no journeys); ``trip_ids`` null off-trip; speed km/h -> m/s; optional fields left out when unknown.
_MDS_SQL = """
WITH trip AS (
    SELECT * FROM unnest(%(t_vehicle)s::uuid[], %(t_trip)s::uuid[], %(t_start)s::timestamptz[],
                         %(t_end)s::timestamptz[]) AS t(vehicle_id, trip_id, started, ended)
)
SELECT '{"provider_id":"' || %(provider)s::uuid || '","device_id":"' || h.vehicle_id
    || '","telemetry_id":"' || md5(h.vehicle_id::text || ':' || h.seq)::uuid
    || '","timestamp":' || floor(extract(epoch FROM h.at) * 1000)::int8
    || ',"trip_ids":' || coalesce('["' || t.trip_id || '"]', 'null') || ',"journey_id":null,"location":'
    || json_strip_nulls(json_build_object('lat', h.lat, 'lng', h.lon, 'heading', h.heading,
                                          'speed', h.speed_kph / 3.6, 'horizontal_accuracy', h.accuracy_m))
    || coalesce(',"battery_percent":' || h.battery_pct, '')
    || CASE WHEN 'tipped_over' = ANY(h.alarms) THEN ',"tipped_over":true' ELSE '' END || '}'
  FROM telemetry_reading h
  LEFT JOIN trip t ON t.vehicle_id = h.vehicle_id AND h.at >= t.started AND h.at <= t.ended
 WHERE h.at >= %(start)s AND h.at < %(end)s AND h.vehicle_id = ANY(%(vehicles)s::uuid[])
   AND h.lat IS NOT NULL AND h.lon IS NOT NULL
"""


def _array(values: Iterable[object]) -> str:
    """A PostgreSQL array literal of uuids or ISO timestamps (neither needs quoting), cast in the SQL."""
    return "{" + ",".join(map(str, values)) + "}"


def mds_telemetry_json(*, provider_id: str, vehicle_ids: Sequence[uuid.UUID], start: datetime, end: datetime,
                       trips: Sequence[TripSpan], rows_per_fetch: int = 5000) -> Iterator[list[str]]:
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
