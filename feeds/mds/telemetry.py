"""MDS Provider ``/telemetry?telemetry_time=YYYY-MM-DDTHH``: an hour of the telemetry history, streamed.

An hour of a 10,000-vehicle city is millions of points: the body is written in pieces while PostgreSQL produces
the points through a server-side cursor (``telemetry.selectors.mds_telemetry_json``), so memory does not grow with
the hour. Every trip has its start and end point (MDS: at least two per trip), taken from the ride (where the
vehicle was when the trip started and ended) in the hour they fall in, next to the readings of the history.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.mds.hours import HOUR
from fleet import selectors as fleet_selectors
from rides import selectors as ride_selectors
from telemetry import selectors as telemetry_selectors

ROWS_PER_FETCH = 5000  # points per cursor fetch and per piece of the body: a few MB of memory at most
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _trip_point(provider_id: str, trip: ride_selectors.TripInterval, which: str) -> dict[str, Any] | None:
    at, lat, lon = ((trip.start, trip.start_lat, trip.start_lon) if which == "start"
                    else (trip.end, trip.end_lat, trip.end_lon))
    if which == "end" and lat is None:  # a start cancelled before its unlock ends where it started
        lat, lon = trip.start_lat, trip.start_lon
    if at is None or lat is None or lon is None:
        return None
    return {"provider_id": provider_id, "device_id": str(trip.vehicle_id),
            "telemetry_id": str(uuid.uuid5(trip.trip_id, which)), "timestamp": _ms(at),
            "trip_ids": [str(trip.trip_id)], "journey_id": None, "location": {"lat": lat, "lng": lon}}


def trip_end_points(trips: Sequence[ride_selectors.TripInterval], *, provider_id: str, start: datetime,
                    end: datetime) -> list[dict[str, Any]]:
    """The start and end point of each trip that falls in ``[start, end)``."""
    points = []
    for trip in trips:
        for which, at in (("start", trip.start), ("end", trip.end)):
            if at is not None and start <= at < end and (point := _trip_point(provider_id, trip, which)):
                points.append(point)
    return points


def telemetry_body(*, city_ids: Sequence[uuid.UUID], provider_id: str, start: datetime,
                   version: str = "2.0.0") -> Generator[tuple[bytes, int]]:
    """The ``/telemetry`` body of the hour starting at ``start``, in pieces of at most ``ROWS_PER_FETCH`` points,
    each with the number of points it holds. Closing the generator early ends the cursor and its transaction."""
    end = start + HOUR
    vehicles = fleet_selectors.city_vehicle_ids(city_ids=city_ids)
    trips = ride_selectors.trip_intervals_overlapping(city_ids=city_ids, start=start, end=end)
    edges = trip_end_points(trips, provider_id=provider_id, start=start, end=end)
    yield json.dumps({"version": version, "telemetry": edges}, separators=(",", ":"))[:-2].encode(), len(edges)
    separator = "," if edges else ""
    spans = [telemetry_selectors.TripSpan(t.vehicle_id, t.trip_id, t.start, t.end) for t in trips]
    readings = telemetry_selectors.mds_telemetry_json(provider_id=provider_id, vehicle_ids=vehicles, start=start,
                                                      end=end, trips=spans, rows_per_fetch=ROWS_PER_FETCH)
    try:
        for points in readings:
            yield (separator + ",".join(points)).encode(), len(points)
            separator = ","
    finally:
        readings.close()  # the server-side cursor and its transaction end now, also when the client went away
    yield b"]}", 0
