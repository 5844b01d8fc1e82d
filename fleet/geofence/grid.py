"""A uniform cell index over a city's zones, for ``evaluate_batch``: which zones may contain a point.

Built once per compiled zone set (lazily, on the first batch). Each cell lists, in zone order, the zones whose
polygon meets the cell, flagged *full* when the polygon covers the whole cell. A point then needs no geometry
test at all for full entries and one vectorised ``shapely.intersects_xy`` (prepared polygons) for the few
partial ones near zone edges; no shapely object is created per point.

Exactness: a cell is *full* only when no boundary segment, grown by ``_EPS_DEG`` (about 0.1 mm, far more than
the rounding of a point's cell arithmetic), comes near it and its centre is inside the polygon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

CELL_M = 50.0
MAX_CELLS_PER_AXIS = 256
_EPS_DEG = 1e-9
_METRES_PER_DEG = 111_195.0


@dataclass(frozen=True, slots=True)
class CellIndex:
    bounds: tuple[float, float, float, float]
    nx: int
    ny: int
    offsets: IntArray  # entries of cell c: offsets[c]:offsets[c + 1]
    zones: IntArray
    full: npt.NDArray[np.bool_]


def _axis_cells(extent_m: float) -> int:
    return int(min(MAX_CELLS_PER_AXIS, max(1, math.ceil(extent_m / CELL_M))))


def build(geometries: npt.NDArray[np.object_]) -> CellIndex:
    """The cell index of prepared zone polygons (list order = zone index)."""
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(geometries))
    cos_lat = math.cos(math.radians((miny + maxy) / 2))
    nx = _axis_cells((maxx - minx) * _METRES_PER_DEG * cos_lat)
    ny = _axis_cells((maxy - miny) * _METRES_PER_DEG)
    dx, dy = (maxx - minx) / nx, (maxy - miny) / ny
    cells, zones, full = [], [], []
    for z, geometry in enumerate(geometries):
        zone_cells, zone_full = _zone_cells(geometry, (minx, miny, dx, dy, nx, ny))
        cells.append(zone_cells)
        zones.append(np.full(zone_cells.size, z, dtype=np.int64))
        full.append(zone_full)
    return _pack((minx, miny, maxx, maxy), nx, ny, cells, zones, full)


def _zone_cells(
    geometry: shapely.Geometry, grid: tuple[float, float, float, float, int, int]
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Cells a polygon meets, and which of them it covers. Cells its boundary may cross are partial; every
    other cell of its bounding box lies wholly inside or outside, which the cell's centre decides."""
    minx, miny, dx, dy, nx, ny = grid
    gx0, gy0, gx1, gy1 = geometry.bounds
    # Grown like the segments: a point on the bounding box may round into the neighbouring cell.
    i = np.arange(_cell(gx0 - _EPS_DEG, minx, dx, nx), _cell(gx1 + _EPS_DEG, minx, dx, nx) + 1)
    j = np.arange(_cell(gy0 - _EPS_DEG, miny, dy, ny), _cell(gy1 + _EPS_DEG, miny, dy, ny) + 1)
    ii, jj = (a.ravel() for a in np.meshgrid(i, j))
    box_cells = jj * nx + ii
    edge = np.isin(box_cells, _boundary_cells(geometry, grid))
    inside = shapely.contains_xy(geometry, minx + (ii + 0.5) * dx, miny + (jj + 0.5) * dy)
    meets = edge | inside
    return box_cells[meets], ~edge[meets]


def _boundary_cells(
    geometry: shapely.Geometry, grid: tuple[float, float, float, float, int, int]
) -> IntArray:
    """Every cell a boundary segment may touch (a superset: partial cells get an exact test per point).
    Segments are first cut to at most one cell long, so each spans at most 3 cells per axis."""
    minx, miny, dx, dy, nx, ny = grid
    rings = shapely.get_rings(shapely.segmentize(geometry, min(dx, dy)))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same_ring = ring[1:] == ring[:-1]
    a, b = xy[:-1][same_ring], xy[1:][same_ring]
    lo, hi = np.minimum(a, b) - _EPS_DEG, np.maximum(a, b) + _EPS_DEG
    i0, i1 = _cells(lo[:, 0], minx, dx, nx), _cells(hi[:, 0], minx, dx, nx)
    j0, j1 = _cells(lo[:, 1], miny, dy, ny), _cells(hi[:, 1], miny, dy, ny)
    found = [
        ((j0 + dj) * nx + i0 + di)[(i0 + di <= i1) & (j0 + dj <= j1)] for di in range(3) for dj in range(3)
    ]
    return np.unique(np.concatenate(found))


def _cells(values: FloatArray, origin: float, size: float, count: int) -> IntArray:
    return np.clip(np.floor((values - origin) / size).astype(np.int64), 0, count - 1)


def _cell(value: float, origin: float, size: float, count: int) -> int:
    return min(count - 1, max(0, math.floor((value - origin) / size)))


def _pack(
    bounds: tuple[float, float, float, float],
    nx: int,
    ny: int,
    cells: list[IntArray],
    zones: list[IntArray],
    full: list[npt.NDArray[np.bool_]],
) -> CellIndex:
    cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
    zone = np.concatenate(zones) if zones else np.zeros(0, dtype=np.int64)
    covered = np.concatenate(full) if full else np.zeros(0, dtype=bool)
    order = np.lexsort((zone, cell))  # by cell, then zone order (= precedence)
    offsets = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell, minlength=nx * ny), out=offsets[1:])
    return CellIndex(bounds, nx, ny, offsets, zone[order], covered[order])


def pairs(
    index: CellIndex, geometries: npt.NDArray[np.object_], x: FloatArray, y: FloatArray
) -> tuple[IntArray, IntArray]:
    """(point index, zone index) of every zone containing a point (boundary included), by point then zone."""
    minx, miny, maxx, maxy = index.bounds
    # Outside the bounds of all zones no zone can contain a point (NaN compares False: outside too).
    points = np.flatnonzero((x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
    i = np.minimum(((x[points] - minx) * (index.nx / (maxx - minx))).astype(np.int64), index.nx - 1)
    j = np.minimum(((y[points] - miny) * (index.ny / (maxy - miny))).astype(np.int64), index.ny - 1)
    cell = j * index.nx + i
    start, count = index.offsets[cell], index.offsets[cell + 1] - index.offsets[cell]
    point_idx = np.repeat(points, count)
    first = np.cumsum(count) - count
    entry = np.repeat(start - first, count) + np.arange(point_idx.size)
    zone_idx, keep = index.zones[entry], index.full[entry].copy()
    edge = ~keep
    if edge.any():
        keep[edge] = shapely.intersects_xy(geometries[zone_idx[edge]], x[point_idx[edge]], y[point_idx[edge]])
    return point_idx[keep], zone_idx[keep]
