"""``telemetry.reactions.react`` alone on synthetic batches: microseconds per message (for ``python -m bench telemetry``).

The city is the geofence benchmark's (``bench/_geofence_city.py``: 200 zones, stored as ``Zone`` rows so the real
``geofence_for_city`` path compiles them), with 10 000 vehicles in PostgreSQL, 30 % of them on a ride. Each batch
holds 5 000 readings of 2 500 vehicles (two fixes each, about 10 m apart, moving in a straight line): the common
case, with the zone entries/exits, speed-limit commands, zone warnings and the rare alarm or low battery that such
movement produces. Every batch runs in a transaction that is rolled back (the batch worker's history and state
writes are not part of this figure; pushes are sent after commit, outside it), while the ``before`` state moves
on in Python as if the batch had committed.

    with common.django_database("telemetry"):   # PIPE's benchmark, its own database
        figures = bench._react.run()
    figures = bench._react.figures()              # or stand-alone: own database, dropped afterwards

``python -m bench._react`` prints the figures (the last line is one JSON object).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np

from bench import common

VEHICLES = 10_000
BATCH = 5_000
FIXES_PER_VEHICLE = 2
ON_TRIP_SHARE = 0.3
STEP_M = 10.0


def make_city() -> Any:
    from bench import _geofence_city
    from fleet.models import City, VehicleType, Zone
    from fleet.models.zones import KIND_DEFAULTS

    city = City.objects.create(slug=f"react-{uuid.uuid4().hex[:8]}", name="React bench", timezone="Europe/Berlin",
                               currency="EUR")
    specs, _ = _geofence_city.city()
    zones = []
    for priority, spec in enumerate(specs):
        base = spec.rules[-1]  # the rule for every type (the engine tests cover per-type rules)
        flags = dict(KIND_DEFAULTS[spec.kind])
        zones.append(Zone(city=city, name=spec.name, kind=spec.kind, priority=priority, geometry=spec.geometry,
                          starts_at=spec.start, ends_at=spec.end, maximum_speed_kph=base.maximum_speed_kph, **flags))
    Zone.objects.bulk_create(zones)
    types = [VehicleType.objects.get_or_create(code=code, defaults={
        "name": code, "form_factor": "scooter_standing", "propulsion_type": "electric", "max_range_meters": 40_000,
        "max_permitted_speed_kph": 20})[0] for code in _geofence_city.TYPES]
    return city, types


def make_fleet(city: Any, types: list[Any], rng: np.random.Generator) -> list[Any]:
    """10k vehicles over the city (available or on a ride), their riders and rides; returns their ``before``."""
    from accounts.models import User
    from bench import _geofence_city
    from fleet import grid
    from fleet.models import Vehicle
    from fleet.states import Status
    from rides.models import Ride, RideState
    from telemetry.messages import VehicleBefore

    now = _now()
    lons, lats, type_codes = _geofence_city.random_points(int(rng.integers(1 << 30)), VEHICLES)
    by_code = {t.code: t for t in types}
    on_trip = rng.random(VEHICLES) < ON_TRIP_SHARE
    salt = uuid.uuid4().int % 10_000  # codes and IMEIs unique per call: several fleets may share one database
    vehicles = [
        Vehicle(code=f"R{salt:04d}{i:05d}", imei=f"99{salt:04d}{i:09d}", vehicle_type=by_code[type_codes[i]], city=city,
                status=Status.ON_TRIP if on_trip[i] else Status.AVAILABLE, trip_id=uuid.uuid4() if on_trip[i] else None,
                battery_pct=int(rng.integers(16, 100)), lat=float(lats[i]), lon=float(lons[i]),
                cell=grid.cell_of(float(lats[i]), float(lons[i])), position_at=now, locked=not on_trip[i])
        for i in range(VEHICLES)
    ]
    Vehicle.objects.bulk_create(vehicles, batch_size=2_000)
    riding = [v for v in vehicles if v.trip_id is not None]
    users = User.objects.bulk_create([User(email=f"react-{v.code.lower()}@bench.invalid") for v in riding],
                                     batch_size=2_000)
    Ride.objects.bulk_create([
        Ride(id=v.trip_id, rider=u, vehicle=v, vehicle_type=v.vehicle_type, city=city, state=RideState.ACTIVE,
             tariff={}, currency="EUR", started_at=now) for v, u in zip(riding, users, strict=True)
    ], batch_size=2_000)
    return [VehicleBefore(v.id, city.id, v.vehicle_type.code, v.status, v.trip_id, v.lat, v.lon, v.position_at,
                          v.battery_pct, v.locked, None, v.code) for v in vehicles]


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


def _batch(before: list[Any], start: int, headings: np.ndarray, clock: Any, seq: int,
           rng: np.random.Generator) -> list[Any]:
    """Two fixes each for 2 500 vehicles, ``STEP_M`` apart along each vehicle's heading; 0.1 % tipped over,
    a slow battery drain."""
    from bench._geofence_city import METRES_PER_DEG
    from telemetry.messages import Reading

    readings = []
    chosen = range(start, start + BATCH // FIXES_PER_VEHICLE)
    for index in chosen:
        vehicle = before[index % len(before)]
        heading = headings[index % len(before)]
        dlat = STEP_M * math.cos(heading) / METRES_PER_DEG
        dlon = STEP_M * math.sin(heading) / (METRES_PER_DEG * math.cos(math.radians(vehicle.lat)))
        level = vehicle.battery_pct - (1 if rng.random() < 0.05 else 0)
        for k in range(1, FIXES_PER_VEHICLE + 1):
            alarms = ("tipped_over",) if rng.random() < 0.001 else ()
            at = clock + timedelta(milliseconds=500 * k)
            readings.append(Reading(vehicle.vehicle_id, seq + k, at, at, lat=vehicle.lat + k * dlat,
                                    lon=vehicle.lon + k * dlon, speed_kph=15.0, battery_pct=level, alarms=alarms))
    readings.sort(key=lambda r: (r.vehicle_id, r.seq))
    return readings


def _advance(before: list[Any], readings: list[Any]) -> None:
    """The state after a committed batch: the newest fix and battery of each vehicle."""
    index = {b.vehicle_id: i for i, b in enumerate(before)}
    for r in readings:
        i = index[r.vehicle_id]
        before[i] = replace(before[i], lat=r.lat, lon=r.lon, position_at=r.at, battery_pct=r.battery_pct)


def _measure(before: list[Any], headings: np.ndarray, batches: int, state: dict[str, Any],
             rng: np.random.Generator) -> tuple[list[float], list[float], dict[str, int]]:
    from django.db import transaction

    from telemetry.reactions import react

    wall: list[float] = []
    cpu: list[float] = []
    totals: dict[str, int] = {}
    for _ in range(batches):
        state["clock"] += timedelta(seconds=1)
        state["seq"] += FIXES_PER_VEHICLE
        readings = _batch(before, state["start"], headings, state["clock"], state["seq"], rng)
        state["start"] += BATCH // FIXES_PER_VEHICLE
        mapping = {b.vehicle_id: b for b in before}
        with transaction.atomic():
            with common.Timer() as timer:
                counters = react(readings=readings, before=mapping)
            transaction.set_rollback(True)
        _advance(before, readings)
        wall.append(timer.wall_s * 1e6 / len(readings))
        cpu.append(timer.cpu_s * 1e6 / len(readings))
        for name, count in counters.items():
            totals[name] = totals.get(name, 0) + count
    return wall, cpu, totals


def run(*, batches: int = 6, seed: int = 11) -> dict[str, Any]:
    """Needs Django pointed at a migrated database (``common.django_database``); leaves its rows there."""
    rng = np.random.default_rng(seed)
    city, types = make_city()
    before = make_fleet(city, types, rng)
    headings = rng.uniform(0, 2 * math.pi, len(before))
    state: dict[str, Any] = {"clock": _now(), "seq": 0, "start": 0}
    _measure(before, headings, 1, state, rng)  # warm-up: zone compile, cell index, first queries
    wall, cpu, totals = _measure(before, headings, batches, state, rng)
    return {
        "react_us_per_msg": round(statistics.median(wall), 2),
        "react_us_per_msg_cpu": round(statistics.median(cpu), 2),
        "react_us_per_msg_max": round(max(wall), 2),
        "react_batch_ms": round(statistics.median(wall) * BATCH / 1000, 1),
        "react_batches": batches,
        "react_counters": totals,
    }


def figures(*, batches: int = 6) -> dict[str, Any]:
    """``run`` in a database of its own (created, migrated, dropped)."""
    with common.django_database("react"):
        return run(batches=batches)


def main() -> dict[str, Any]:
    common.setup_django()
    common.pin_to_one_core()
    started = time.perf_counter()
    result = figures()
    print(f"react(): {result['react_us_per_msg']} us/message wall (median of {result['react_batches']} batches of "
          f"{BATCH}), {result['react_us_per_msg_cpu']} us CPU, worst batch {result['react_us_per_msg_max']} us/message")
    print(f"counters over the batches: {result['react_counters']}")
    print(f"({time.perf_counter() - started:.0f} s including setup)")
    return result


if __name__ == "__main__":
    figures_out = main()
    sys.stdout.flush()
    print(json.dumps(figures_out, sort_keys=True))
