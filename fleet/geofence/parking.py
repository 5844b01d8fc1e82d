"""Where may a ride end? The allowed-end area of a vehicle type at a time, and the nearest point in it.

The area is built by walking the active zones in precedence order: each zone claims the part of its polygon
no earlier zone claimed, and that part is allowed when the zone's rule for the type allows ending there (with
``station_parking``: only inside parking-spot zones). What no zone claims follows the global rule.

``nearest_allowed_end`` builds that area only inside a window around the point (250 m, then 4x larger each
round): the nearest allowed point found at distance <= the window's half-size is the true nearest, because
everything outside the window is farther. Once the window holds every zone, the answer is final.

Distances are computed in a local equirectangular projection around the query point (metres, accurate to well
under 1 % at city scale) and the distance reported is the great-circle distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from fleet.geofence.rules import Rule

FloatArray = npt.NDArray[np.float64]

if TYPE_CHECKING:
    from fleet.geofence.engine import CompiledZones

EARTH_RADIUS_M = 6_371_008.8
# The returned point lies this far inside the allowed area, so that evaluating it really says "allowed"
# (a point on a shared edge belongs to both zones, and the earlier one wins).
INSET_M = 0.5
_FRAME_MARGIN_DEG = 1.0
FIRST_WINDOW_M = 250.0


def nearest_allowed_end(
    zones: CompiledZones, lon: float, lat: float, vehicle_type_id: str | None, at: datetime | None
) -> tuple[float, float, float] | None:
    at = at if at is not None else datetime.now(UTC)  # one instant for every round
    if zones.evaluate(lon, lat, vehicle_type_id, at).ride_end_allowed:
        return (lon, lat, 0.0)
    reach_m = FIRST_WINDOW_M
    while True:
        window = _window(lon, lat, reach_m)
        region = allowed_end_region(zones, vehicle_type_id, at, window=window)
        found = None if region.is_empty else _nearest_inside(shapely.transform(region, _local(lon, lat)))
        final = not len(zones) or window.contains(shapely.box(*shapely.total_bounds(zones.geometries)))
        if found is not None and (math.hypot(*found) <= reach_m or final):
            end_lon, end_lat = _from_local(*found, lon, lat)
            return (end_lon, end_lat, haversine_m(lon, lat, end_lon, end_lat))
        if final:
            return None
        reach_m *= 4


def allowed_end_region(
    zones: CompiledZones,
    vehicle_type_id: str | None,
    at: datetime | None,
    *,
    window: shapely.Polygon | None = None,
) -> BaseGeometry:
    """The area (lon/lat) where ``vehicle_type_id`` may end a ride at ``at``, inside ``window`` (default:
    one degree around all zones, which stands for "everywhere" when the global rule allows ending)."""
    if window is None:
        window = _frame(zones)
    table = zones.type_table(vehicle_type_id)
    candidates = zones.zones_in_box(*window.bounds)
    active = np.zeros(len(zones), dtype=bool)
    active[candidates] = True
    active &= zones.active_mask(at)
    clipped = shapely.intersection(zones.geometries[active], window)
    spots = shapely.union_all(clipped[table.spot[active]])
    claimed: BaseGeometry = shapely.Polygon()
    allowed: list[BaseGeometry] = []
    for geometry, z in zip(clipped, np.flatnonzero(active), strict=True):
        if table.zone_rule[z] < 0:
            continue
        piece = geometry.difference(claimed) if not claimed.is_empty else geometry
        claimed = claimed.union(geometry)
        allowed.append(_end_part(piece, zones.rules[table.zone_rule[z]], spots))
    allowed.append(_end_part(window.difference(claimed), zones.rules[table.global_rule], spots))
    return shapely.union_all([part for part in allowed if not part.is_empty])


def _frame(zones: CompiledZones) -> shapely.Polygon:
    if not len(zones):
        return shapely.box(-180, -90, 180, 90)
    minx, miny, maxx, maxy = shapely.total_bounds(zones.geometries)
    margin = _FRAME_MARGIN_DEG
    return shapely.box(minx - margin, miny - margin, maxx + margin, maxy + margin)


def _window(lon: float, lat: float, reach_m: float) -> shapely.Polygon:
    """The lon/lat box that is the square of half-side ``reach_m`` in the local projection around the point."""
    dlat = math.degrees(reach_m / EARTH_RADIUS_M)
    dlon = math.degrees(reach_m / (EARTH_RADIUS_M * _cos_lat(lat)))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


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


def _local(lon0: float, lat0: float) -> Callable[[FloatArray], FloatArray]:
    """lon/lat -> metres east/north of (lon0, lat0), equirectangular."""
    scale_x = EARTH_RADIUS_M * _cos_lat(lat0)

    def project(xy: FloatArray) -> FloatArray:
        out = np.empty_like(xy)
        out[:, 0] = np.radians(xy[:, 0] - lon0) * scale_x
        out[:, 1] = np.radians(xy[:, 1] - lat0) * EARTH_RADIUS_M
        return out

    return project


def _from_local(x: float, y: float, lon0: float, lat0: float) -> tuple[float, float]:
    scale_x = EARTH_RADIUS_M * _cos_lat(lat0)
    return lon0 + math.degrees(x / scale_x), lat0 + math.degrees(y / EARTH_RADIUS_M)


def _cos_lat(lat: float) -> float:
    # Never zero: at the poles the local projection degenerates, but it must not divide by zero.
    return max(math.cos(math.radians(lat)), 1e-9)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))
