"""Reads for the public GBFS feeds (``feeds.gbfs``): the vehicles a city shows to trip planners, and types.

Which vehicles are public is fleet's knowledge (statuses), so it lives here: vehicles on a trip (or on a trip
outside the jurisdiction) never appear, nor vehicles off the street (workshop, charging, rebalancing, impounded,
retired), nor those out of contact or without a position.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from fleet.models import VehicleType
from fleet.states import Status

# status -> (is_reserved, is_disabled) in GBFS. Off-hours vehicles are not "disabled": GBFS says is_disabled
# SHOULD NOT be true when the system is closed for vehicles that would otherwise be rentable.
PUBLIC_STATUSES: dict[str, tuple[bool, bool]] = {
    Status.AVAILABLE: (False, False),
    Status.RESERVED: (True, False),
    Status.OFF_HOURS: (False, False),
    Status.LOW_BATTERY: (False, True),
    Status.MAINTENANCE: (False, True),
    Status.SUSPENDED: (False, True),
}


@dataclass(frozen=True, slots=True)
class PublicVehicle:
    """One ``vehicle_status`` item as JSON text, and what the caller needs to place it in a station and count it."""

    json: str
    public_id: str
    vehicle_type_id: uuid.UUID
    lat: float
    lon: float
    is_reserved: bool
    is_disabled: bool


# PostgreSQL writes each item's JSON (and its public id), in the order of the public ids: a 10k-vehicle city costs the
# database ~0.35 s and the web process only the join of the texts, where building the dicts and ids in Python and
# dumping them held the GIL for most of a second (docs/gbfs.md "Benchmark"). Concatenation, not json_build_object:
# 2.5 times faster here; every text that is not ours or a number goes through to_json (escaping), ids are hex. The
# public id is HMAC-SHA256 written out (sha256 is built in, pgcrypto is not needed): the caller passes the key's inner
# and outer pads. ``last_trip`` is the newest trip_start in the event log, found through the (vehicle, -timestamp)
# index: it changes once per trip. The inner query sorts the short rows (before the JSON is written).
_PUBLIC_SQL = """
SELECT '{"' || %(id_key)s || '":"' || v.pid || '","lat":' || round(v.lat::numeric, 6) || ',"lon":' || round(v.lon::numeric, 6)
       || ',"is_reserved":' || (v.status = ANY(%(reserved)s)) || ',"is_disabled":' || (v.status = ANY(%(disabled)s))
       || ',"vehicle_type_id":' || to_json(t.code)::text
       || CASE WHEN v.position_at IS NULL THEN ''
               WHEN %(posix)s THEN ',"last_reported":' || floor(extract(epoch FROM v.position_at))::bigint
               ELSE ',"last_reported":"' || to_char(v.position_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') || '"' END
       || CASE WHEN t.propulsion_type <> 'human'
               THEN ',"current_range_meters":' || coalesce(v.range_meters, v.battery_pct * t.max_range_meters / 100, 0) ELSE '' END
       || CASE WHEN v.battery_pct IS NULL THEN '' ELSE ',"current_fuel_percent":' || round(v.battery_pct / 100.0, 2) END
       || CASE WHEN %(uri)s = '' THEN '' ELSE ',"rental_uris":{' || concat_ws(',',
               CASE WHEN %(android)s THEN '"android":' || to_json(replace(%(uri)s, '{vehicle_id}', v.pid))::text END,
               CASE WHEN %(ios)s THEN '"ios":' || to_json(replace(%(uri)s, '{vehicle_id}', v.pid))::text END,
               CASE WHEN %(web)s THEN '"web":' || to_json(replace(%(uri)s, '{vehicle_id}', v.pid))::text END) || '}' END
       || '}',
       v.pid, v.vehicle_type_id, v.lat, v.lon, v.status = ANY(%(reserved)s), v.status = ANY(%(disabled)s)
FROM (
    SELECT v.*, p.pid FROM fleet_vehicle v
    LEFT JOIN LATERAL (
        SELECT e.trip_id FROM fleet_vehicleevent e
        WHERE e.vehicle_id = v.id AND e.event_types @> ARRAY['trip_start']::varchar(32)[]
        ORDER BY e.timestamp DESC LIMIT 1
    ) last_trip ON true
    CROSS JOIN LATERAL (
        SELECT left(encode(sha256(%(outer)s || sha256(%(inner)s || convert_to(
            v.id::text || ':' || coalesce(last_trip.trip_id::text, ''), 'UTF8'))), 'hex'), %(id_length)s) AS pid
    ) p
    WHERE v.city_id = %(city)s AND v.vehicle_type_id = ANY(%(types)s) AND v.status = ANY(%(statuses)s)
      AND v.lat IS NOT NULL AND v.lon IS NOT NULL
    ORDER BY p.pid
) v
JOIN fleet_vehicletype t ON t.id = v.vehicle_type_id
ORDER BY v.pid
"""


def public_vehicles(
    *, city_id: uuid.UUID, vehicle_type_ids: Iterable[uuid.UUID], mac_pads: tuple[bytes, bytes], id_length: int,
    rental_uri: str = "", rental_platforms: Collection[str] = (), version: str = "3.0",
) -> list[PublicVehicle]:
    """The city's vehicles of these types that GBFS ``vehicle_status`` shows, ordered by public id (an order by
    anything persistent would let a consumer link a vehicle's rotated ids by its place in the list).

    ``mac_pads``: the inner and outer pads of the HMAC-SHA256 key of the public ids (``feeds.gbfs.ids``);
    ``rental_uri``: a deep link with ``{vehicle_id}``, given as ``rental_uris`` for ``rental_platforms`` (android,
    ios, web); ``version`` "2.3" names the id ``bike_id`` and gives
    ``last_reported`` in POSIX seconds.
    """
    inner, outer = mac_pads
    params: dict[str, Any] = {
        "city": city_id, "types": list(vehicle_type_ids), "statuses": list(PUBLIC_STATUSES),
        "reserved": [s for s, (reserved, _) in PUBLIC_STATUSES.items() if reserved],
        "disabled": [s for s, (_, disabled) in PUBLIC_STATUSES.items() if disabled],
        "id_key": "bike_id" if version == "2.3" else "vehicle_id", "posix": version == "2.3",
        "uri": rental_uri if rental_platforms else "", "android": "android" in rental_platforms,
        "ios": "ios" in rental_platforms, "web": "web" in rental_platforms, "inner": inner, "outer": outer, "id_length": id_length,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PUBLIC_SQL, params)
        return [PublicVehicle(*row) for row in cursor.fetchall()]


def vehicle_types_by_id(*, ids: Iterable[uuid.UUID]) -> list[VehicleType]:
    """These vehicle types, by code."""
    return list(VehicleType.objects.filter(id__in=list(ids)).order_by("code"))
