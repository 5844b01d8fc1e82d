"""A synthetic city of 200 zones for the geofence benchmark (and its test): seeded, so every run is the same.

Around a Berlin-sized operating area (a 60-vertex polygon of ~9 km radius), in the precedence order an ops team
would use (small and strict first): 80 parking spots, 20 no-ride zones, 50 no-parking zones, 49 slow zones,
then the operating area. Every polygon is star-shaped with 10-60 vertices and validated by
``fleet.geojson.validate_multipolygon``. Zones overlap; about one in six has a schedule (some active at
``AT``, some not) and about one in four has a rule for one vehicle type before its rule for all types.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fleet.geofence import Rule, ZoneKind, ZoneSpec
from fleet.geojson import validate_multipolygon

CENTRE = (13.40, 52.52)
AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TYPES = ("scooter", "bike", "moped")
METRES_PER_DEG = 111_195.0
# Outside the operating area: ride through, but no start and no end.
GLOBAL_RULES = (Rule(ride_start_allowed=False, ride_end_allowed=False),)
# (kind, count, radius range in metres)
LAYOUT = [
    (ZoneKind.PARKING_MANDATORY, 50, (15, 40)),
    (ZoneKind.PARKING_PREFERRED, 30, (15, 40)),
    (ZoneKind.NO_RIDE, 20, (100, 500)),
    (ZoneKind.NO_PARKING, 50, (100, 700)),
    (ZoneKind.SLOW, 49, (300, 1_500)),
]


def star_polygon(
    rng: np.random.Generator, lon: float, lat: float, radius_m: float, vertices: int
) -> dict[str, Any]:
    """A simple (star-shaped) GeoJSON Polygon: ``vertices`` points at sorted angles, jittered radii."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, vertices))
    radii = radius_m * rng.uniform(0.6, 1.0, vertices)
    dlat = radii * np.sin(angles) / METRES_PER_DEG
    dlon = radii * np.cos(angles) / (METRES_PER_DEG * math.cos(math.radians(lat)))
    ring = [[round(lon + x, 7), round(lat + y, 7)] for x, y in zip(dlon, dlat, strict=True)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _rules(rng: np.random.Generator, kind: str) -> tuple[Rule, ...]:
    if kind == ZoneKind.NO_RIDE:
        base = Rule(ride_start_allowed=False, ride_end_allowed=False, ride_through_allowed=False)
    elif kind == ZoneKind.NO_PARKING:
        base = Rule(ride_end_allowed=False)
    elif kind == ZoneKind.SLOW:
        base = Rule(maximum_speed_kph=int(rng.choice([10, 12, 15, 20])))
    elif kind == ZoneKind.PARKING_MANDATORY:
        base = Rule(station_parking=True)
    else:
        base = Rule()
    if rng.random() < 0.25:  # a type-specific rule first, e.g. mopeds are treated differently
        special = Rule(vehicle_type_ids=frozenset({str(rng.choice(TYPES))}), maximum_speed_kph=25)
        return (special, base)
    return (base,)


def _schedule(rng: np.random.Generator) -> tuple[datetime | None, datetime | None]:
    if rng.random() >= 1 / 6:
        return None, None
    start = AT + timedelta(hours=int(rng.integers(-48, 24)))
    return start, start + timedelta(hours=int(rng.integers(2, 72)))


def _zone(rng: np.random.Generator, index: int, kind: str, radius: tuple[int, int]) -> ZoneSpec:
    lon = CENTRE[0] + rng.uniform(-0.11, 0.11)
    lat = CENTRE[1] + rng.uniform(-0.07, 0.07)
    geometry = star_polygon(rng, lon, lat, rng.uniform(*radius), int(rng.integers(10, 61)))
    start, end = _schedule(rng)
    return ZoneSpec(
        id=f"{kind}-{index}",
        name=f"{kind.replace('_', ' ')} {index}",
        kind=kind,
        geometry=validate_multipolygon(geometry),
        rules=_rules(rng, kind),
        start=start,
        end=end,
    )


def city(seed: int = 7) -> tuple[list[ZoneSpec], tuple[Rule, ...]]:
    """200 zones in precedence order, and the global rules."""
    rng = np.random.default_rng(seed)
    zones = [_zone(rng, i, kind, radius) for kind, count, radius in LAYOUT for i in range(count)]
    area = star_polygon(rng, *CENTRE, 9_000, 60)
    zones.append(
        ZoneSpec(
            "operating-area",
            "Operating area",
            ZoneKind.OPERATING_AREA,
            validate_multipolygon(area),
            (Rule(),),
        )
    )
    return zones, GLOBAL_RULES


def random_points(seed: int, count: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Uniform points over a 14 x 14 km box around the centre (mostly inside the operating area; the
    benchmark reports the share) and a vehicle type each."""
    rng = np.random.default_rng(seed)
    lons = CENTRE[0] + rng.uniform(-0.103, 0.103, count)
    lats = CENTRE[1] + rng.uniform(-0.063, 0.063, count)
    types = [TYPES[i] for i in rng.integers(0, len(TYPES), count)]
    return lons, lats, types
