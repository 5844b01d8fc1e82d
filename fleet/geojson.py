"""GeoJSON zone geometry: validation and normalisation, pure (no Django models, no database).

``validate_multipolygon`` accepts a GeoJSON ``Polygon`` or ``MultiPolygon`` object and returns a normalised
``MultiPolygon`` dict: 2D ``[lon, lat]`` float positions, exterior rings counter-clockwise and holes clockwise
(the right-hand rule GBFS ``geofencing_zones`` asks for). Anything else raises ``GeometryInvalid`` whose message
says what is wrong and where (polygon, ring and position index, the offending coordinate), and whose ``details``
carry the same location for clients.
"""

from __future__ import annotations

import math
import re
from typing import Any

import shapely
from shapely.validation import explain_validity

from core.errors import DomainError

# A zone is a city-scale area; a bound on its size keeps a bad upload from pinning a worker.
MAX_POSITIONS = 100_000


class GeometryInvalid(DomainError):
    """The zone geometry is not a valid WGS84 GeoJSON (Multi)Polygon."""

    code, status, message = "geometry_invalid", 400, "The geometry is not a valid GeoJSON (Multi)Polygon."


def validate_multipolygon(obj: object) -> dict[str, Any]:
    """Validate a GeoJSON Polygon/MultiPolygon and return it as a normalised MultiPolygon dict."""
    if not isinstance(obj, dict):
        raise GeometryInvalid(f"geometry must be a GeoJSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeometryInvalid(f"geometry type must be Polygon or MultiPolygon, got {kind!r}", type=kind)
    coordinates = obj.get("coordinates")
    if not isinstance(coordinates, list):
        raise GeometryInvalid("coordinates must be an array")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not polygons:
        raise GeometryInvalid("geometry is empty: a MultiPolygon needs at least one polygon")
    rings = [_polygon_rings(polygon, index) for index, polygon in enumerate(polygons)]
    if sum(len(ring) for polygon in rings for ring in polygon) > MAX_POSITIONS:
        raise GeometryInvalid(f"geometry has more than {MAX_POSITIONS} positions")
    geometry = _checked_shape(rings)
    return {"type": "MultiPolygon", "coordinates": _as_lists(geometry)}


def _polygon_rings(polygon: object, p: int) -> list[list[tuple[float, float]]]:
    if not isinstance(polygon, list) or not polygon:
        raise GeometryInvalid(f"polygon {p}: must be a non-empty array of linear rings", polygon=p)
    return [_ring(ring, p, r) for r, ring in enumerate(polygon)]


def _ring(ring: object, p: int, r: int) -> list[tuple[float, float]]:
    where = f"polygon {p}, ring {r}"
    if not isinstance(ring, list):
        raise GeometryInvalid(f"{where}: must be an array of positions", polygon=p, ring=r)
    if len(ring) < 4:
        raise GeometryInvalid(
            f"{where}: a linear ring needs at least 4 positions, got {len(ring)}", polygon=p, ring=r
        )
    positions = [_position(position, p, r, i) for i, position in enumerate(ring)]
    if positions[0] != positions[-1]:
        raise GeometryInvalid(
            f"{where}: ring is not closed, first position {list(positions[0])} "
            f"differs from last position {list(positions[-1])}",
            polygon=p,
            ring=r,
        )
    return positions


def _position(position: object, p: int, r: int, i: int) -> tuple[float, float]:
    where = f"polygon {p}, ring {r}, position {i}"
    loc = {"polygon": p, "ring": r, "position": i}
    if not isinstance(position, list) or len(position) not in (2, 3):
        raise GeometryInvalid(f"{where}: a position must be [lon, lat] or [lon, lat, alt]", **loc)
    if not all(_is_number(value) for value in position):
        raise GeometryInvalid(f"{where}: coordinates must be finite numbers, got {position!r}", **loc)
    lon, lat = float(position[0]), float(position[1])
    if not -180.0 <= lon <= 180.0:
        raise GeometryInvalid(f"{where}: longitude {lon} is outside -180..180 (WGS84 is [lon, lat])", **loc)
    if not -90.0 <= lat <= 90.0:
        raise GeometryInvalid(f"{where}: latitude {lat} is outside -90..90 (WGS84 is [lon, lat])", **loc)
    return lon, lat


def _as_lists(geometry: shapely.MultiPolygon) -> list[list[list[list[float]]]]:
    return [
        [[list(xy) for xy in ring.coords] for ring in (polygon.exterior, *polygon.interiors)]
        for polygon in geometry.geoms
    ]


def _is_number(value: object) -> bool:
    # bool is an int subclass; true/false in a coordinate is a client bug, not a 1 or a 0.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _checked_shape(rings: list[list[list[tuple[float, float]]]]) -> shapely.MultiPolygon:
    polygons = []
    for p, (shell, *holes) in enumerate(rings):
        polygon = shapely.Polygon(shell, holes)
        if not polygon.is_valid:
            raise GeometryInvalid(f"polygon {p}: invalid polygon: {explain_validity(polygon)}", polygon=p)
        if polygon.area <= 0.0:
            raise GeometryInvalid(f"polygon {p}: polygon has no area", polygon=p)
        polygons.append(polygon)
    multi = shapely.MultiPolygon(polygons)
    if not multi.is_valid:
        raise GeometryInvalid(
            f"polygons overlap or touch along an edge: {explain_validity(multi)}; merge them into one polygon"
        )
    oriented = shapely.orient_polygons(multi, exterior_cw=False)
    assert isinstance(oriented, shapely.MultiPolygon)
    return oriented


# GEOS names the place of an invalid shape in its reason, e.g. "Self-intersection[13.41 52.52]".
_GEOS_POINT = re.compile(r"\[(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) (-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\]")


def error_location(obj: object, error: GeometryInvalid) -> tuple[float, float] | None:
    """Where on a map the problem ``validate_multipolygon(obj)`` raised lies, as ``(lon, lat)``, when it can be
    placed: the point GEOS names (a self-intersection, polygons that overlap), else the offending position, else
    the first position of the offending ring or polygon. ``None`` for problems without a place (not an object...)."""
    found = _GEOS_POINT.search(error.detail_message)
    if found:
        return _on_earth([float(found.group(1)), float(found.group(2))])
    if not isinstance(obj, dict) or not isinstance(obj.get("coordinates"), list):
        return None
    polygons = [obj["coordinates"]] if obj.get("type") == "Polygon" else obj["coordinates"]
    path = [error.details.get(key) for key in ("polygon", "ring", "position")]
    node: object = polygons
    for depth, index in enumerate(path):
        if index is None:  # descend along the first element to a position
            index = 0
        if not isinstance(node, list) or not isinstance(index, int) or not 0 <= index < len(node):
            return None
        node = node[index]
        if depth == 0 and error.details.get("polygon") is None:
            return None
    return _on_earth(node)


def _on_earth(position: object) -> tuple[float, float] | None:
    if not isinstance(position, list) or len(position) < 2 or not all(_is_number(v) for v in position[:2]):
        return None
    lon, lat = float(position[0]), float(position[1])
    return (lon, lat) if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0 else None
