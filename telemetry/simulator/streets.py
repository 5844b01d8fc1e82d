"""A street grid around a city centre and vehicles that drive along it. No map data: plausible, not real, streets.

Intersections sit every ``spacing_m`` metres on a grid turned by ``angle_deg`` (city blocks are rarely aligned
with north); a rider goes from intersection to intersection, mostly straight on, sometimes turning, never
leaving the grid's radius.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

EARTH_M_PER_DEG = 111_320.0
Node = tuple[int, int]
_STEPS: tuple[Node, ...] = ((1, 0), (-1, 0), (0, 1), (0, -1))


class StreetGrid:
    def __init__(self, lat: float, lon: float, *, radius_m: float = 3000.0, spacing_m: float = 150.0,
                 angle_deg: float = 12.0) -> None:
        self.lat, self.lon, self.spacing = lat, lon, spacing_m
        self.half = max(1, int(radius_m // spacing_m))
        self._cos, self._sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
        self._m_per_deg_lon = EARTH_M_PER_DEG * math.cos(math.radians(lat))

    def position(self, node: Node, towards: Node | None = None, fraction: float = 0.0) -> tuple[float, float]:
        """(lat, lon) of a node, or ``fraction`` of the way to ``towards``."""
        i, j = float(node[0]), float(node[1])
        if towards is not None:
            i += (towards[0] - node[0]) * fraction
            j += (towards[1] - node[1]) * fraction
        x, y = i * self.spacing, j * self.spacing  # metres east/north before the grid's rotation
        east, north = x * self._cos - y * self._sin, x * self._sin + y * self._cos
        return self.lat + north / EARTH_M_PER_DEG, self.lon + east / self._m_per_deg_lon

    def nearest(self, lat: float, lon: float) -> Node:
        north, east = (lat - self.lat) * EARTH_M_PER_DEG, (lon - self.lon) * self._m_per_deg_lon
        x, y = east * self._cos + north * self._sin, -east * self._sin + north * self._cos
        clamp = lambda v: max(-self.half, min(self.half, round(v / self.spacing)))  # noqa: E731
        return clamp(x), clamp(y)

    def heading(self, node: Node, towards: Node) -> float:
        """Compass heading (degrees, 0 = north) of the street from ``node`` to ``towards``."""
        dx, dy = towards[0] - node[0], towards[1] - node[1]
        east, north = dx * self._cos - dy * self._sin, dx * self._sin + dy * self._cos
        return math.degrees(math.atan2(east, north)) % 360

    def next_node(self, previous: Node, node: Node, rng: random.Random) -> Node:
        """Straight on most of the time, else a turn; never back unless it is a dead end, never off the grid."""
        ahead = (2 * node[0] - previous[0], 2 * node[1] - previous[1])
        options = [(node[0] + di, node[1] + dj) for di, dj in _STEPS]
        options = [n for n in options if abs(n[0]) <= self.half and abs(n[1]) <= self.half and n != previous]
        if not options:
            return previous
        if ahead in options and rng.random() < 0.7:
            return ahead
        return rng.choice(options)


@dataclass(slots=True)
class Walker:
    """Where a vehicle is on the grid: on the street from ``node`` to ``target``, ``done_m`` metres along."""

    node: Node
    target: Node
    done_m: float = 0.0

    def advance(self, grid: StreetGrid, metres: float, rng: random.Random) -> None:
        self.done_m += metres
        while self.done_m >= grid.spacing:
            self.done_m -= grid.spacing
            self.node, self.target = self.target, grid.next_node(self.node, self.target, rng)

    def position(self, grid: StreetGrid) -> tuple[float, float]:
        return grid.position(self.node, self.target, self.done_m / grid.spacing)
