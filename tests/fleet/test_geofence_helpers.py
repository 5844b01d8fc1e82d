"""Builders for the geofence tests (square zones in degrees around a point); no tests of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fleet.geofence import Rule, ZoneKind, ZoneSpec


def square(lon: float, lat: float, half: float) -> dict[str, Any]:
    """A GeoJSON Polygon: the square of half-side ``half`` degrees centred on (lon, lat)."""
    w, e, s, n = lon - half, lon + half, lat - half, lat + half
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def zone(
    zone_id: str,
    geometry: dict[str, Any],
    *rules: Rule,
    kind: str = ZoneKind.OPERATING_AREA,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ZoneSpec:
    return ZoneSpec(
        id=zone_id, name=zone_id.title(), kind=kind, geometry=geometry, rules=rules, start=start, end=end
    )


NO_END = Rule(ride_end_allowed=False)
NO_RIDE = Rule(ride_start_allowed=False, ride_end_allowed=False, ride_through_allowed=False)
ALLOW = Rule()


def only(*type_ids: str, **flags: Any) -> Rule:
    """A rule for some vehicle types."""
    return Rule(vehicle_type_ids=frozenset(type_ids), **flags)
