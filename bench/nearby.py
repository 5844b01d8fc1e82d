"""Nearby search latency: 100k vehicles in one city in real PostgreSQL, ~1000 queries through the selector.

``python -m bench nearby`` runs it alone; ``python -m bench geofence`` includes it. The database is a
throw-away one (``bench.common.django_database``), created, migrated, loaded with COPY and dropped after.
Each query is the full selector call (``fleet.selectors.vehicles_nearby``: one SQL statement on the grid-cell
partial index, plus the pricing plan lookup billing registers), timed from the caller's side; the same queries
are then timed without the pricing plan lookup (``nearby_fleet_only_*``).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import timedelta
from typing import Any

from bench import common

# A Berlin-sized box (~30 x 30 km) and the mix of states a real fleet has.
MIN_LAT, MAX_LAT, MIN_LON, MAX_LON = 52.38, 52.65, 13.10, 13.70
STATUSES = [("available", 0.80), ("on_trip", 0.08), ("reserved", 0.02), ("low_battery", 0.05), ("in_workshop", 0.05)]
_COLUMNS = ("id", "code", "imei", "vehicle_type_id", "city_id", "status", "status_before_loss", "trip_id",
            "battery_pct", "range_meters", "lat", "lon", "cell", "position_at", "locked", "odometer_meters",
            "flags", "secret_hash", "created_at", "updated_at")


def _setup_catalogue() -> tuple[Any, list[Any]]:
    from fleet.models import City, VehicleType

    city = City.objects.create(slug="bench", name="Bench City", timezone="Europe/Berlin", currency="EUR")
    types = [
        VehicleType.objects.create(code=f"bench-{form}", name=form, form_factor=form, propulsion_type=prop,
                                   max_range_meters=40_000)
        for form, prop in [("scooter_standing", "electric"), ("bicycle", "electric_assist"), ("moped", "electric")]
    ]
    return city, types


def _rows(n: int, city: Any, types: list[Any], rng: random.Random) -> Any:
    from django.utils import timezone

    from fleet import grid

    now = timezone.now()
    names, weights = zip(*STATUSES, strict=True)
    for i in range(n):
        lat, lon = rng.uniform(MIN_LAT, MAX_LAT), rng.uniform(MIN_LON, MAX_LON)
        status = rng.choices(names, weights)[0]
        trip = uuid.uuid4() if status in ("on_trip", "reserved") else None
        seen = now - timedelta(seconds=rng.uniform(0, 1200))  # a quarter are stale (> 900 s)
        yield (uuid.uuid4(), f"B{i:07d}", f"{i:015d}", rng.choice(types).id, city.id, status, "", trip,
               rng.randint(5, 100), rng.randint(1000, 40_000), lat, lon, grid.cell_of(lat, lon), seen, True, 0,
               "{}", "", now, now)


def _load(n: int, city: Any, types: list[Any]) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        copy_sql = f"COPY fleet_vehicle ({', '.join(_COLUMNS)}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for row in _rows(n, city, types, random.Random(42)):
                copy.write_row(row)
        cursor.execute("ANALYZE fleet_vehicle")
    return time.perf_counter() - started


def _queries(count: int, types: list[Any]) -> tuple[list[float], list[float], float]:
    """Wall-clock and client-CPU milliseconds per query, and the mean number of vehicles per answer."""
    from fleet.selectors import vehicles_nearby

    rng = random.Random(7)
    samples: list[float] = []
    cpu: list[float] = []
    found = 0
    for i in range(count + 50):
        kwargs: dict[str, Any] = {"lat": rng.uniform(MIN_LAT, MAX_LAT), "lon": rng.uniform(MIN_LON, MAX_LON),
                                  "radius_m": rng.choice([250, 500, 500, 1000])}
        if i % 4 == 0:
            kwargs["min_battery"] = 30
        if i % 5 == 0:
            kwargs["vehicle_type"] = rng.choice(types).code
        started, cpu_started = time.perf_counter(), time.process_time()
        result = vehicles_nearby(**kwargs)
        elapsed, cpu_ms = (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000
        if i >= 50:  # the first 50 warm the connection and the buffer cache
            samples.append(elapsed)
            cpu.append(cpu_ms)
            found += len(result)
    return samples, cpu, found / count


def _without_pricing_plans(count: int, types: list[Any]) -> dict[str, float]:
    """The same queries with no pricing plan resolver: the fleet's own share of the latency."""
    from fleet.selectors import nearby as nearby_selectors

    resolver = nearby_selectors.pricing_plan_resolver()
    nearby_selectors.register_pricing_plan_resolver(None)
    try:
        samples, _, _ = _queries(count, types)
    finally:
        nearby_selectors.register_pricing_plan_resolver(resolver)
    return common.percentiles(samples)


def run(n_vehicles: int = 100_000, n_queries: int = 1000) -> dict[str, Any]:
    with common.django_database("nearby"):
        city, types = _setup_catalogue()
        load_s = _load(n_vehicles, city, types)
        print(f"nearby: loaded {n_vehicles} vehicles with COPY in {load_s:.1f} s", flush=True)
        samples, cpu, mean_found = _queries(n_queries, types)
        fleet_only = _without_pricing_plans(n_queries, types)
    figures, client = common.percentiles(samples), common.percentiles(cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"nearby: {n_queries} queries, p50 {figures['p50']} ms, p99 {figures['p99']} ms wall "
          f"(client CPU p50 {client['p50']} ms), {mean_found:.1f} vehicles per answer, load average {load}", flush=True)
    print(f"nearby without the pricing plan lookup: p50 {fleet_only['p50']} ms, p99 {fleet_only['p99']} ms", flush=True)
    return {"nearby_p50_ms": figures["p50"], "nearby_p99_ms": figures["p99"], "nearby_vehicles": n_vehicles,
            "nearby_queries": n_queries, "nearby_mean_results": round(mean_found, 1),
            "nearby_client_cpu_p50_ms": client["p50"], "nearby_load_average": load,
            "nearby_fleet_only_p50_ms": fleet_only["p50"], "nearby_fleet_only_p99_ms": fleet_only["p99"]}


def main() -> dict[str, Any]:
    return run()
