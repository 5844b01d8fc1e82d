"""A fixed lat/lon grid for the nearby index: every vehicle position gets an integer cell, computed in Python.

Cells are ``CELL_DEG`` degrees on each side (~1.1 km north-south, ~0.7 km east-west at 50 degrees latitude),
so a search radius of a few hundred metres touches a handful of cells, and the partial btree index on
``Vehicle.cell`` narrows 100k vehicles to the few hundred near the rider before the exact distance is computed.
"""

from __future__ import annotations

import math

CELL_DEG = 0.01
_LON_CELLS = round(360 / CELL_DEG)
EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEG_LAT = math.pi * EARTH_RADIUS_M / 180


def cell_of(lat: float, lon: float) -> int:
    row = math.floor((lat + 90.0) / CELL_DEG)
    col = math.floor((lon + 180.0) / CELL_DEG) % _LON_CELLS
    return row * _LON_CELLS + col


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) of a circle; the longitude span widens towards the poles."""
    dlat = radius_m / _M_PER_DEG_LAT
    cos_lat = max(math.cos(math.radians(lat)), 1e-6)
    dlon = min(radius_m / (_M_PER_DEG_LAT * cos_lat), 180.0)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def cells_covering(lat: float, lon: float, radius_m: float) -> list[int]:
    """Every cell that intersects the bounding box of the circle (wrapping at the antimeridian)."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    rows = range(math.floor((max(min_lat, -90.0) + 90.0) / CELL_DEG), math.floor((min(max_lat, 90.0) + 90.0) / CELL_DEG) + 1)
    first_col = math.floor((min_lon + 180.0) / CELL_DEG)
    last_col = math.floor((max_lon + 180.0) / CELL_DEG)
    cols = {col % _LON_CELLS for col in range(first_col, last_col + 1)}
    return [row * _LON_CELLS + col for row in rows for col in sorted(cols)]
