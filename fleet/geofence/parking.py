"""Where may a ride end? The allowed-end area of a vehicle type at a time, and the nearest point in it.

The area is built by walking the active zones in precedence order: each zone claims the part of its polygon
no earlier zone claimed, and that part is allowed when the zone's rule for the type allows ending there (with
``station_parking``: only inside parking-spot zones). What no zone claims follows the global rule; when that
allows ending, the area is unbounded, represented by a frame one degree around all zones. The area depends only
on the vehicle type and on which zones are active, so it is cached per (type, active set).

Distances are computed in a local equirectangular projection around the query point (metres, accurate to well
under 1 % at city scale) and the distance reported is the great-circle distance.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from fleet.geofence.rules import Rule

if TYPE_CHECKING:
    from fleet.geofence.engine import CompiledZones

EARTH_RADIUS_M = 6_371_008.8
# The returned point lies this far inside the allowed area, so that evaluating it really says "allowed"
# (a point on a shared edge belongs to both zones, and the earlier one wins).
INSET_M = 0.5
_FRAME_MARGIN_DEG = 1.0


def nearest_allowed_end(
    zones: CompiledZones, lon: float, lat: float, vehicle_type_id: str | None, at: datetime | None
) -> tuple[float, float, float] | None:
    if zones.evaluate(lon, lat, vehicle_type_id, at).ride_end_allowed:
        return (lon, lat, 0.0)
    region = allowed_end_region(zones, vehicle_type_id, at)
    if region.is_empty:
        return None
    local = shapely.transform(region, lambda xy: _to_local(xy, lon, lat))
    x, y = _nearest_inside(local)
    end_lon, end_lat = _from_local(x, y, lon, lat)
    return (end_lon, end_lat, haversine_m(lon, lat, end_lon, end_lat))


def allowed_end_region(
    zones: CompiledZones, vehicle_type_id: str | None, at: datetime | None
) -> BaseGeometry:
    """The area (lon/lat, a shapely geometry) where ``vehicle_type_id`` may end a ride at ``at``."""
    active = zones.active_mask(at)
    key = (vehicle_type_id, active.tobytes())
    cache = zones.region_cache
    if key not in cache:
        cache[key] = _build_region(zones, vehicle_type_id, active)
    return cache[key]


def _build_region(
    zones: CompiledZones, vehicle_type_id: str | None, active: npt.NDArray[np.bool_]
) -> BaseGeometry:
    table = zones.type_table(vehicle_type_id)
    spots = shapely.union_all(zones.geometries[active & table.spot])
    claimed: BaseGeometry = shapely.Polygon()
    allowed: list[BaseGeometry] = []
    for i in np.flatnonzero(active & (table.zone_rule >= 0)):
        geometry = zones.geometries[i]
        piece = geometry.difference(claimed) if not claimed.is_empty else geometry
        claimed = claimed.union(geometry)
        allowed.append(_end_part(piece, zones.rules[table.zone_rule[i]], spots))
    if len(zones):
        minx, miny, maxx, maxy = shapely.total_bounds(zones.geometries)
        frame = shapely.box(
            minx - _FRAME_MARGIN_DEG,
            miny - _FRAME_MARGIN_DEG,
            maxx + _FRAME_MARGIN_DEG,
            maxy + _FRAME_MARGIN_DEG,
        )
    else:
        frame = shapely.box(-180, -90, 180, 90)
    allowed.append(_end_part(frame.difference(claimed), zones.rules[table.global_rule], spots))
    return shapely.union_all([part for part in allowed if not part.is_empty])


def _end_part(piece: BaseGeometry, rule: Rule, spots: BaseGeometry) -> BaseGeometry:
    if not rule.ride_end_allowed or piece.is_empty:
        return shapely.Polygon()
    if rule.station_parking is True:
        return piece.intersection(spots)
    return piece


def _nearest_inside(local: BaseGeometry) -> tuple[float, float]:
    origin = shapely.Point(0.0, 0.0)
    distance = local.distance(origin)
    # Only the neighbourhood matters: clip before the (costly) inward buffer.
    reach = distance + 10 * INSET_M + 1.0
    window = local.intersection(shapely.box(-reach, -reach, reach, reach))
    inset = window.buffer(-INSET_M)
    target = inset if not inset.is_empty else window
    x, y = shapely.shortest_line(target, origin).coords[0]
    return x, y


def _to_local(xy: npt.NDArray[np.float64], lon0: float, lat0: float) -> npt.NDArray[np.float64]:
    scale_x = EARTH_RADIUS_M * math.cos(math.radians(lat0))
    out = np.empty_like(xy)
    out[:, 0] = np.radians(xy[:, 0] - lon0) * scale_x
    out[:, 1] = np.radians(xy[:, 1] - lat0) * EARTH_RADIUS_M
    return out


def _from_local(x: float, y: float, lon0: float, lat0: float) -> tuple[float, float]:
    scale_x = EARTH_RADIUS_M * math.cos(math.radians(lat0))
    return lon0 + math.degrees(x / scale_x), lat0 + math.degrees(y / EARTH_RADIUS_M)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))
