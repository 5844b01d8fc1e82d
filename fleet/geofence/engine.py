"""``CompiledZones``: a city's zones compiled once into shapely 2 geometries, queried per point or per batch.

Precedence (GBFS 3.0 ``geofencing_zones``): within a zone the first rule that applies to the vehicle type wins;
among overlapping zones the earlier zone in the list wins; a zone with no rule for the type is skipped; zones
beat ``global_rules``; zones whose schedule is inactive at ``at`` are ignored; with nothing at all, every
action is allowed with no speed limit. A rule with ``station_parking=True`` allows ending a ride only inside
an active parking-spot zone (kind ``parking_*``) that serves the vehicle type.

An instance never changes what it answers and is safe to share between threads: its lazily built parts (per-type
rule tables, the interned verdicts, the batch cell index) are pure functions of the zones, so a race at worst
builds one twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely

from fleet.geofence import batch, grid, parking
from fleet.geofence.rules import Rule, Transition, Verdict, ZoneKind, ZoneSpec, timestamp, transition

DEFAULT_RULE = Rule()
_VERDICT_CACHE_LIMIT = 100_000

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TypeTable:
    """Per vehicle type: index (into ``CompiledZones.rules``) of each zone's first matching rule or -1,
    the global rule index, and which zones are parking spots serving this type."""

    zone_rule: IntArray
    global_rule: int
    spot: BoolArray
    zone_rule_list: list[int]  # the same as Python lists, for the single-point path
    spot_list: list[bool]


def _bound(value: datetime | None, *, missing: float, zone_id: str) -> float:
    if value is None:
        return missing
    if value.tzinfo is None:
        raise ValueError(f"zone {zone_id}: schedule start/end must be timezone-aware")
    return value.timestamp()


VerdictKey = tuple[int, tuple[int, ...], bool]


class VerdictCache(dict[VerdictKey, Verdict]):
    """Interned verdicts by (rule index, zone indexes, in-spot flag); a miss builds one (see ``__missing__``,
    which lets ``map(cache.__getitem__, keys)`` run the whole lookup loop in C)."""

    def __init__(self, make: Callable[[int, tuple[int, ...], bool], Verdict]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, key: VerdictKey) -> Verdict:
        if len(self) >= _VERDICT_CACHE_LIMIT:
            self.clear()
        verdict = self[key] = self._make(*key)
        return verdict


class CompiledZones:
    """The zones of one city (list order = precedence) and the city's global rules, ready to query."""

    def __init__(self, zones: Sequence[ZoneSpec], global_rules: Sequence[Rule] = ()) -> None:
        self.zones: tuple[ZoneSpec, ...] = tuple(zones)
        self.global_rules: tuple[Rule, ...] = tuple(global_rules)
        self.geometries = np.array([shapely.geometry.shape(z.geometry) for z in self.zones], dtype=object)
        shapely.prepare(self.geometries)
        self._tree = shapely.STRtree(self.geometries)
        self._starts = np.array([_bound(z.start, missing=-math.inf, zone_id=z.id) for z in self.zones])
        self._ends = np.array([_bound(z.end, missing=math.inf, zone_id=z.id) for z in self.zones])
        self._ids = [z.id for z in self.zones]
        self._kinds = {z.id: z.kind for z in self.zones}
        # Per zone (minx, miny, start) and (maxx, maxy, last instant before end): one box test in 3D.
        box = shapely.bounds(self.geometries).reshape(-1, 4)
        self._low = np.column_stack([box[:, 0], box[:, 1], self._starts])
        self._high = np.column_stack([box[:, 2], box[:, 3], np.nextafter(self._ends, -math.inf)])
        self._index_rules()
        self._tables: dict[str | None, TypeTable] = {}
        self.verdicts = VerdictCache(self._make_verdict)
        self._cell_index: grid.CellIndex | None = None

    def _index_rules(self) -> None:
        # One flat list: every zone's rules, then the global rules, then the default rule.
        self.rules: list[Rule] = []
        self._rule_zone: list[int] = []  # owning zone index, -1 for global/default
        self._zone_rule_span: list[tuple[int, int]] = []
        for index, zone in enumerate(self.zones):
            first = len(self.rules)
            self.rules.extend(zone.rules)
            self._rule_zone.extend([index] * len(zone.rules))
            self._zone_rule_span.append((first, len(self.rules)))
        self._global_first = len(self.rules)
        self.rules.extend(self.global_rules)
        self._default_rule = len(self.rules)
        self.rules.append(DEFAULT_RULE)
        self._rule_zone.extend([-1] * (len(self.global_rules) + 1))
        self.must_park = np.array([rule.station_parking is True for rule in self.rules], dtype=bool)

    def __len__(self) -> int:
        return len(self.zones)

    # -- per-type rule tables -------------------------------------------------------------------------

    def type_table(self, vehicle_type_id: str | None) -> TypeTable:
        table = self._tables.get(vehicle_type_id)
        if table is None:
            table = self._tables[vehicle_type_id] = self._build_table(vehicle_type_id)
        return table

    def _first_rule(self, first: int, stop: int, vehicle_type_id: str | None) -> int:
        return next((i for i in range(first, stop) if self.rules[i].applies_to(vehicle_type_id)), -1)

    def _build_table(self, vehicle_type_id: str | None) -> TypeTable:
        zone_rule = np.array(
            [self._first_rule(a, b, vehicle_type_id) for a, b in self._zone_rule_span], dtype=np.int64
        )
        global_rule = self._first_rule(self._global_first, self._default_rule, vehicle_type_id)
        spot = np.array(
            [
                zone.kind in ZoneKind.PARKING
                and (not zone.rules or (r >= 0 and self.rules[r].ride_end_allowed))
                for zone, r in zip(self.zones, zone_rule, strict=True)
            ],
            dtype=bool,
        )
        global_rule = global_rule if global_rule >= 0 else self._default_rule
        return TypeTable(zone_rule, global_rule, spot, zone_rule.tolist(), spot.tolist())

    # -- verdicts ---------------------------------------------------------------------------------------

    def verdict_for(self, rule_index: int, zone_indexes: tuple[int, ...], in_spot: bool) -> Verdict:
        """The (interned) verdict of a rule, the active zones containing the point, and whether one of them
        is a parking spot serving the type (only kept for must-park rules, so equal verdicts share a key)."""
        return self.verdicts[(rule_index, zone_indexes, in_spot and bool(self.must_park[rule_index]))]

    def _make_verdict(self, rule_index: int, zone_indexes: tuple[int, ...], in_spot: bool) -> Verdict:
        rule = self.rules[rule_index]
        owner = self._rule_zone[rule_index]
        return Verdict(
            ride_start_allowed=rule.ride_start_allowed,
            ride_end_allowed=rule.ride_end_allowed and (rule.station_parking is not True or in_spot),
            ride_through_allowed=rule.ride_through_allowed,
            maximum_speed_kph=rule.maximum_speed_kph,
            station_parking=rule.station_parking,
            zone_id=self._ids[owner] if owner >= 0 else None,
            zone_ids=tuple(self._ids[i] for i in zone_indexes),
        )

    # -- single point -----------------------------------------------------------------------------------

    def _active_containing(self, lon: float, lat: float, ts: float) -> list[int]:
        # Bounding boxes and schedules in numpy over all zones, then the exact test on the few left.
        # (Independent of the batch path's cell index, which the tests compare it with.)
        point = np.array((lon, lat, ts))
        candidates = np.flatnonzero(((self._low <= point) & (point <= self._high)).all(axis=1))
        if candidates.size:
            candidates = candidates[shapely.intersects_xy(self.geometries[candidates], lon, lat)]
        hits: list[int] = candidates.tolist()
        return hits

    def evaluate(
        self, lon: float, lat: float, vehicle_type_id: str | None = None, at: datetime | None = None
    ) -> Verdict:
        """The rules that apply to ``vehicle_type_id`` at ``(lon, lat)`` at time ``at`` (default: now)."""
        zone_indexes = self._active_containing(lon, lat, timestamp(at))
        table = self.type_table(vehicle_type_id)
        rules, spots = table.zone_rule_list, table.spot_list
        rule_index = next((rules[i] for i in zone_indexes if rules[i] >= 0), table.global_rule)
        in_spot = any(spots[i] for i in zone_indexes)
        return self.verdict_for(rule_index, tuple(zone_indexes), in_spot)

    def zones_in_box(self, minx: float, miny: float, maxx: float, maxy: float) -> IntArray:
        """Indexes (ascending = precedence order) of the zones whose bounding box meets the box."""
        return np.sort(self._tree.query(shapely.box(minx, miny, maxx, maxy))).astype(np.int64)

    def zones_containing(self, lon: float, lat: float, at: datetime | None = None) -> tuple[ZoneSpec, ...]:
        """Active zones containing the point (boundary included), in precedence order."""
        return tuple(self.zones[i] for i in self._active_containing(lon, lat, timestamp(at)))

    # -- batches ------------------------------------------------------------------------------------------

    def evaluate_batch(
        self,
        lons: npt.ArrayLike,
        lats: npt.ArrayLike,
        vehicle_type_ids: Sequence[str | None] | str | None = None,
        at: datetime | None = None,
    ) -> list[Verdict]:
        """``evaluate`` for many points at once: ``result[i] == evaluate(lons[i], lats[i], types[i], at)``.

        ``vehicle_type_ids`` is one id per point, or a single id (or ``None``) for all points.
        """
        return batch.evaluate(self, lons, lats, vehicle_type_ids, at)

    @property
    def cell_index(self) -> grid.CellIndex:
        """Built on first use (the first batch): single-point callers never pay for it."""
        if self._cell_index is None:
            self._cell_index = grid.build(self.geometries)  # a race builds it twice; both are equal
        return self._cell_index

    def active_mask(self, at: datetime | None) -> BoolArray:
        ts = timestamp(at)
        return (self._starts <= ts) & (ts < self._ends)

    # -- helpers for events and ride ends -----------------------------------------------------------------

    def zone_transitions(self, previous_zone_ids: Sequence[str], zone_ids: Sequence[str]) -> Transition:
        """Zone ids entered and exited between two verdicts (``Verdict.zone_ids``)."""
        return transition(previous_zone_ids, zone_ids)

    def kind_transitions(self, previous_zone_ids: Sequence[str], zone_ids: Sequence[str]) -> Transition:
        """Zone kinds entered and exited (e.g. ``no_ride`` entered): a kind counts while any zone has it."""
        kinds = self._kinds
        return transition(
            (kinds[i] for i in previous_zone_ids if i in kinds), (kinds[i] for i in zone_ids if i in kinds)
        )

    def nearest_allowed_end(
        self, lon: float, lat: float, vehicle_type_id: str | None = None, at: datetime | None = None
    ) -> tuple[float, float, float] | None:
        """The nearest point ``(lon, lat, distance_m)`` where this vehicle type may end a ride at ``at``.

        The point itself (distance 0) when ending is allowed there; ``None`` when it is allowed nowhere.
        """
        return parking.nearest_allowed_end(self, lon, lat, vehicle_type_id, at)
