"""What a fleet socket shows: its view (box, filters, vehicles or grid cells), pure Python with no I/O.

A map of a whole city cannot show 10,000 markers, and should not receive 10,000 positions a second to count
them itself. A socket in **cells** mode keeps the vehicles of its view in memory, counts them per grid cell
(``grid`` degrees a side), and sends only the cells whose counts changed. The client picks the cell size from
its zoom level; the server decides per snapshot whether the view's vehicles are few enough to show one by one
(``max_vehicles``). docs/live.md "Views: box, filters, grid".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

Bbox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

MIN_GRID_DEG, MAX_GRID_DEG = 0.0002, 1.0
MAX_VEHICLES_LIMIT = 5000


def parse_bbox(raw: Any) -> Bbox:
    """Four numbers (a list, or the URL's comma-separated text), min < max, inside the world."""
    parts = [float(p) for p in (raw.split(",") if isinstance(raw, str) else raw)]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise ValueError("bbox needs 4 numbers")
    min_lon, min_lat, max_lon, max_lat = parts
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError("bbox out of range")
    return min_lon, min_lat, max_lon, max_lat


@dataclass(frozen=True)
class Filters:
    """Which vehicles a view shows; empty = all. ``unseen_s``: only vehicles not heard of for that long."""

    statuses: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    battery_below: int | None = None
    unseen_s: int | None = None

    @classmethod
    def parse(cls, raw: Any) -> Filters:
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"status", "type", "battery_below", "unseen_s"}:
            raise ValueError("filter: status, type, battery_below, unseen_s")
        statuses, types = raw.get("status") or [], raw.get("type") or []
        if not all(isinstance(s, str) for s in [*statuses, *types]) or len(statuses) + len(types) > 100:
            raise ValueError("filter: status and type are lists of names")
        return cls(statuses=frozenset(statuses), types=frozenset(types),
                   battery_below=_optional_int(raw.get("battery_below"), 0, 101),
                   unseen_s=_optional_int(raw.get("unseen_s"), 0, 10 ** 8))

    def needs_types(self) -> bool:
        return bool(self.types)

    def passes(self, vehicle: dict[str, Any], vehicle_type: str | None, now: datetime) -> bool:
        if self.statuses and vehicle.get("status") not in self.statuses:
            return False
        if self.types and vehicle_type not in self.types:
            return False
        if self.battery_below is not None:
            level = vehicle.get("battery_pct")
            if level is None or level >= self.battery_below:
                return False
        if self.unseen_s is not None:
            at = vehicle.get("at")
            if at is not None and datetime.fromisoformat(at) > now - timedelta(seconds=self.unseen_s):
                return False
        return True


def _optional_int(value: Any, low: int, high: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"an integer from {low} to {high}")
    return value


@dataclass
class View:
    bbox: Bbox | None = None
    filters: Filters = field(default_factory=Filters)
    grid: float | None = None  # cell size in degrees; None: always single vehicles
    max_vehicles: int = 0  # with a grid: show single vehicles when the view holds at most this many

    @classmethod
    def parse(cls, message: dict[str, Any]) -> View:
        """A client's ``{"type": "view", "bbox", "filter", "grid", "max_vehicles"}``; ``ValueError`` if wrong."""
        if not isinstance(message, dict):
            raise ValueError("a view is a JSON object")
        try:
            return cls._parse(message)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def _parse(cls, message: dict[str, Any]) -> View:
        bbox = message.get("bbox")
        grid = message.get("grid")
        if grid is not None and (isinstance(grid, bool) or not isinstance(grid, int | float)
                                 or not MIN_GRID_DEG <= grid <= MAX_GRID_DEG):
            raise ValueError(f"grid: degrees from {MIN_GRID_DEG} to {MAX_GRID_DEG}")
        return cls(bbox=None if bbox is None else parse_bbox(bbox), filters=Filters.parse(message.get("filter")),
                   grid=None if grid is None else float(grid),
                   max_vehicles=_optional_int(message.get("max_vehicles"), 0, MAX_VEHICLES_LIMIT) or 0)

    def inside(self, vehicle: dict[str, Any]) -> bool:
        lon, lat = vehicle.get("lon"), vehicle.get("lat")
        if lon is None or lat is None:
            return self.bbox is None and self.grid is None  # no position: only in a list of everything
        if self.bbox is None:
            return True
        return self.bbox[0] <= lon <= self.bbox[2] and self.bbox[1] <= lat <= self.bbox[3]

    def json(self) -> dict[str, Any]:
        f = self.filters
        return {"bbox": self.bbox, "grid": self.grid, "max_vehicles": self.max_vehicles,
                "filter": {"status": sorted(f.statuses), "type": sorted(f.types), "battery_below": f.battery_below,
                           "unseen_s": f.unseen_s}}


LOW_BATTERY_PCT = 20


@dataclass
class Cell:
    n: int = 0
    lat_sum: float = 0.0
    lon_sum: float = 0.0
    battery_sum: int = 0
    low: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


class Grid:
    """Vehicles counted per cell, updated one vehicle at a time; ``take_changed`` gives the cells to send."""

    def __init__(self, size: float) -> None:
        self.size = size
        self.cells: dict[tuple[int, int], Cell] = {}
        self.members: dict[str, tuple[tuple[int, int], str, float, float, int]] = {}
        self.changed: set[tuple[int, int]] = set()

    def key(self, lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / self.size), math.floor(lon / self.size)

    def put(self, vehicle: dict[str, Any]) -> None:
        self.remove(vehicle["id"])
        lat, lon = float(vehicle["lat"]), float(vehicle["lon"])
        level = int(vehicle.get("battery_pct") or 0)
        key = self.key(lat, lon)
        cell = self.cells.setdefault(key, Cell())
        cell.n += 1
        cell.lat_sum += lat
        cell.lon_sum += lon
        cell.battery_sum += level
        cell.low += level < LOW_BATTERY_PCT
        cell.statuses[vehicle["status"]] += 1
        self.members[vehicle["id"]] = (key, vehicle["status"], lat, lon, level)
        self.changed.add(key)

    def remove(self, vid: str) -> None:
        found = self.members.pop(vid, None)
        if found is None:
            return
        key, status, lat, lon, level = found
        cell = self.cells[key]
        cell.n -= 1
        cell.lat_sum -= lat
        cell.lon_sum -= lon
        cell.battery_sum -= level
        cell.low -= level < LOW_BATTERY_PCT
        cell.statuses[status] -= 1
        if not cell.statuses[status]:
            del cell.statuses[status]
        if not cell.n:
            del self.cells[key]
        self.changed.add(key)

    def cell_json(self, key: tuple[int, int]) -> dict[str, Any]:
        """A cell at the mean position of its vehicles; ``n`` 0 when it emptied (the client removes it)."""
        cell = self.cells.get(key)
        name = f"{key[0]}:{key[1]}"
        if cell is None:
            return {"key": name, "n": 0}
        return {"key": name, "n": cell.n, "lat": round(cell.lat_sum / cell.n, 6), "lon": round(cell.lon_sum / cell.n, 6),
                "battery_avg": round(cell.battery_sum / cell.n), "low_battery": cell.low,
                "statuses": dict(cell.statuses)}

    def all_json(self) -> list[dict[str, Any]]:
        self.changed.clear()
        return [self.cell_json(key) for key in self.cells]

    def take_changed(self) -> list[dict[str, Any]]:
        changed, self.changed = self.changed, set()
        return [self.cell_json(key) for key in changed]
