"""Vectorised ``CompiledZones.evaluate_batch``.

Geometry: the zones' cell index (``fleet.geofence.grid``) gives each point its candidate zones in zone order;
only candidates near a zone edge get a vectorised ``shapely.intersects_xy`` test against the prepared polygon. Precedence: numpy over the (point, zone) pairs, sorted
by point then zone order, picks each point's first zone with a rule for its vehicle type. The only Python loop
is one pass over the points to hand out the (interned) ``Verdict`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from fleet.geofence import grid
from fleet.geofence.rules import Verdict

if TYPE_CHECKING:
    from fleet.geofence.engine import CompiledZones

IntArray = npt.NDArray[np.int64]


def _type_codes(
    vehicle_type_ids: Sequence[str | None] | str | None, n: int
) -> tuple[list[str | None], IntArray]:
    if vehicle_type_ids is None or isinstance(vehicle_type_ids, str):
        return [vehicle_type_ids], np.zeros(n, dtype=np.int64)
    if len(vehicle_type_ids) != n:
        raise ValueError(f"vehicle_type_ids has {len(vehicle_type_ids)} items for {n} points")
    index = {t: i for i, t in enumerate(dict.fromkeys(vehicle_type_ids))}
    return list(index), np.fromiter(map(index.__getitem__, vehicle_type_ids), dtype=np.int64, count=n)


def _pairs(
    zones: CompiledZones, lons: npt.NDArray[np.float64], lats: npt.NDArray[np.float64], at: datetime | None
) -> tuple[IntArray, IntArray]:
    """(point index, zone index) for every active zone containing a point, sorted by point then zone."""
    if not len(zones):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    point_idx, zone_idx = grid.pairs(zones.cell_index, zones.geometries, lons, lats)
    keep = zones.active_mask(at)[zone_idx]
    return point_idx[keep], zone_idx[keep]


def evaluate(
    zones: CompiledZones,
    lons: npt.ArrayLike,
    lats: npt.ArrayLike,
    vehicle_type_ids: Sequence[str | None] | str | None,
    at: datetime | None,
) -> list[Verdict]:
    x = np.asarray(lons, dtype=np.float64).ravel()
    y = np.asarray(lats, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"lons has {x.size} items, lats has {y.size}")
    n = x.size
    types, codes = _type_codes(vehicle_type_ids, n)
    if n == 0:
        return []
    tables = [zones.type_table(t) for t in types]
    zone_rule = np.stack([t.zone_rule for t in tables], axis=1)  # (zones, types)
    spot = np.stack([t.spot for t in tables], axis=1)
    rule = np.array([t.global_rule for t in tables], dtype=np.int64)[codes]
    in_spot = np.zeros(n, dtype=bool)
    point_idx, zone_idx = _pairs(zones, x, y, at)
    if point_idx.size:
        pair_codes = codes[point_idx]
        pair_rule = zone_rule[zone_idx, pair_codes]
        has_rule = pair_rule >= 0
        first_points, first = np.unique(point_idx[has_rule], return_index=True)
        rule[first_points] = pair_rule[has_rule][first]
        in_spot[point_idx[spot[zone_idx, pair_codes]]] = True
    return _verdicts(zones, rule, in_spot, point_idx, zone_idx, n)


def _verdicts(
    zones: CompiledZones,
    rule: IntArray,
    in_spot: npt.NDArray[np.bool_],
    point_idx: IntArray,
    zone_idx: IntArray,
    n: int,
) -> list[Verdict]:
    """One row per point: rule, in-spot flag, its zone indexes padded with -1. Python only runs once per
    distinct row (a few hundred per batch, not per point); the rows keep the keys of ``verdict_for``."""
    counts = np.bincount(point_idx, minlength=n)
    rows = np.full((n, int(counts.max()) + 2), -1, dtype=np.int64)
    rows[:, 0] = rule
    rows[:, 1] = in_spot & zones.must_park[rule]
    if point_idx.size:
        first = np.cumsum(counts) - counts
        rows[point_idx, 2 + np.arange(point_idx.size) - first[point_idx]] = zone_idx
    distinct, inverse = _distinct_rows(rows)
    lookup = zones.verdicts.__getitem__
    table = np.empty(len(distinct), dtype=object)
    for i, (rule_index, spot, *zone_row) in enumerate(distinct.tolist()):
        table[i] = lookup((rule_index, tuple(z for z in zone_row if z >= 0), bool(spot)))
    verdicts: list[Verdict] = table[inverse.ravel()].tolist()
    return verdicts


def _distinct_rows(rows: IntArray) -> tuple[IntArray, IntArray]:
    """``np.unique(rows, axis=0, return_inverse=True)``, several times faster for a few int columns."""
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    inverse = np.empty(len(rows), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse
