"""Which real vehicles the simulator plays, with their secrets, and the street grid around them."""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from fleet import demo
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from telemetry.simulator.streets import EARTH_M_PER_DEG, StreetGrid
from telemetry.simulator.vehicles import SimVehicle, place


def _secrets(rows: Sequence[Mapping[str, Any]], *, secrets_file: str | None, rotate: bool) -> dict[str, str]:
    """Each vehicle's secret: from the file ({code: secret}), else by rotating its credential (development)."""
    if secrets_file:
        known: dict[str, str] = json.loads(Path(secrets_file).read_text())
        missing = [str(r["code"]) for r in rows if r["code"] not in known]
        if missing:
            raise CommandError(f"{secrets_file} has no secret for {len(missing)} vehicles, e.g. {missing[0]}")
        return known
    if not rotate:
        raise CommandError("simulated vehicles need their secrets: --secrets FILE ({code: secret}) or "
                           "--rotate-credentials (development only: replaces the vehicles' IoT secrets)")
    secrets = {}
    for row in rows:
        code = str(row["code"])
        # The demo vehicle keeps its documented secret, so the HTTP examples of the docs keep working.
        if code == demo.DEMO_VEHICLE and fleet_selectors.vehicle_authenticate(code, demo.DEMO_SECRET):
            secrets[code] = demo.DEMO_SECRET
        else:
            secrets[code] = fleet_services.vehicle_credential_rotate(vehicle_id=row["id"])
    return secrets


def _grid(rows: Sequence[Mapping[str, Any]]) -> StreetGrid:
    placed = [(float(r["lat"]), float(r["lon"])) for r in rows if r["lat"] is not None]
    if not placed:
        return StreetGrid(52.52, 13.405)
    lat = sum(p[0] for p in placed) / len(placed)
    lon = sum(p[1] for p in placed) / len(placed)
    m_per_deg_lon = EARTH_M_PER_DEG * math.cos(math.radians(lat))
    farthest = max(math.hypot((p[0] - lat) * EARTH_M_PER_DEG, (p[1] - lon) * m_per_deg_lon) for p in placed)
    return StreetGrid(lat, lon, radius_m=min(max(farthest + 200, 1500), 8000))


def vehicles_for(*, city_slug: str, count: int, secrets_file: str | None = None, rotate: bool = False,
                 seed: int | None = None) -> tuple[list[SimVehicle], StreetGrid]:
    """The first ``count`` vehicles of the city (by code; retired ones excepted) as simulated units."""
    city = fleet_selectors.city_get_by_slug(slug=city_slug)
    if city is None:
        raise CommandError(f"no city {city_slug!r} (manage.py demo_data creates 'berlin')")
    rows = list(fleet_selectors.vehicles_in_city(city_id=city.id).values("id", "code", "lat", "lon", "battery_pct")[:count])
    if not rows:
        raise CommandError(f"city {city_slug!r} has no vehicles")
    secrets = _secrets(rows, secrets_file=secrets_file, rotate=rotate)
    grid, rng = _grid(rows), random.Random(seed)
    seq = int(time.time() * 1000)  # above any earlier run's counters (at most 1,000 messages/s per vehicle)
    return [SimVehicle(id=r["id"], code=str(r["code"]), secret=secrets[str(r["code"])],
                       walker=place(grid, r["lat"], r["lon"], rng), seq=seq,
                       battery=float(r["battery_pct"] or 90)) for r in rows], grid
