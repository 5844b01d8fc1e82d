"""``python -m bench geofence``: how many points per second the geofence engine evaluates, on one core.

A seeded synthetic city of 200 zones (``bench._geofence_city``). Figures:
- ``points_per_s_single``: ``CompiledZones.evaluate`` called in a Python loop, one point at a time;
- ``points_per_s_batched``: ``evaluate_batch`` over batches of 1000, 2000 and 5000 points; the headline is
  the slowest of the three (each size is reported too);
- ``baseline_points_per_s``: the naive way, in the same run: every zone tested per point with shapely, in
  precedence order (its verdicts are checked against the engine's, so the comparison is like for like);
- ``compile_ms`` (``CompiledZones(...)``) and ``cell_index_ms`` (built on the first batch, timed apart);
- ``nearest_end_*``: ``nearest_allowed_end`` for 200 points where ending is refused;
- then ``bench.nearby.run()`` if that module exists (nearby search latency with 100k vehicles in PostgreSQL).

Rates are wall-clock; ``*_cpu`` variants divide by process CPU time, which stays honest on a busy machine.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from bench import _geofence_city as synthetic
from bench import common
from fleet.geofence import CompiledZones, Rule, Verdict

SINGLE_POINTS = 20_000
BATCH_POINTS = 200_000  # per batch size
BATCH_SIZES = (1_000, 2_000, 5_000)
BASELINE_POINTS = 1_000
NEAREST_POINTS = 200


def _say(label: str, value: object, unit: str = "") -> None:
    print(f"  {label:<42} {value}{(' ' + unit) if unit else ''}", flush=True)


def measure_single(zones: CompiledZones) -> dict[str, float]:
    lons, lats, types = synthetic.random_points(1, SINGLE_POINTS)
    evaluate, at = zones.evaluate, synthetic.AT
    points = list(zip(lons.tolist(), lats.tolist(), types, strict=True))
    with common.Timer() as t:
        for lon, lat, type_id in points:
            evaluate(lon, lat, type_id, at)
    return {
        "points_per_s_single": common.rate(SINGLE_POINTS, t.wall_s),
        "points_per_s_single_cpu": common.rate(SINGLE_POINTS, t.cpu_s),
    }


def measure_batches(zones: CompiledZones) -> dict[str, float]:
    lons, lats, types = synthetic.random_points(2, BATCH_POINTS)
    figures: dict[str, float] = {}
    for size in BATCH_SIZES:
        with common.Timer() as t:
            for start in range(0, BATCH_POINTS, size):
                stop = start + size
                zones.evaluate_batch(lons[start:stop], lats[start:stop], types[start:stop], synthetic.AT)
        figures[f"points_per_s_batch_{size}"] = common.rate(BATCH_POINTS, t.wall_s)
        figures[f"points_per_s_batch_{size}_cpu"] = common.rate(BATCH_POINTS, t.cpu_s)
    figures["points_per_s_batched"] = min(figures[f"points_per_s_batch_{s}"] for s in BATCH_SIZES)
    figures["points_per_s_batched_cpu"] = min(figures[f"points_per_s_batch_{s}_cpu"] for s in BATCH_SIZES)
    return figures


def naive_evaluate(zones: CompiledZones, lon: float, lat: float, type_id: str, ts: float) -> tuple[Any, ...]:
    """The baseline: a Python loop over every zone per point (prepared geometries, GBFS precedence)."""
    rule: Rule | None = None
    for zone, geometry in zip(zones.zones, zones.geometries, strict=True):
        if zone.start and zone.start.timestamp() > ts or zone.end and zone.end.timestamp() <= ts:
            continue
        if rule is None and shapely.intersects_xy(geometry, lon, lat):
            rule = next((r for r in zone.rules if r.applies_to(type_id)), None)
    rule = rule or next((r for r in zones.global_rules if r.applies_to(type_id)), Rule())
    return (rule.ride_start_allowed, rule.ride_through_allowed, rule.maximum_speed_kph)


def _decision(verdict: Verdict) -> tuple[Any, ...]:
    return (verdict.ride_start_allowed, verdict.ride_through_allowed, verdict.maximum_speed_kph)


def measure_baseline(zones: CompiledZones) -> dict[str, float]:
    lons, lats, types = synthetic.random_points(3, BASELINE_POINTS)
    ts = synthetic.AT.timestamp()
    with common.Timer() as t:
        naive = [naive_evaluate(zones, x, y, k, ts) for x, y, k in zip(lons, lats, types, strict=True)]
    engine = [_decision(v) for v in zones.evaluate_batch(lons, lats, types, synthetic.AT)]
    if naive != engine:
        raise AssertionError(
            "the naive baseline and the engine disagree: the benchmark compares different work"
        )
    return {"baseline_points_per_s": common.rate(BASELINE_POINTS, t.wall_s)}


def measure_nearest_end(zones: CompiledZones) -> dict[str, float]:
    lons, lats, types = synthetic.random_points(4, 20 * NEAREST_POINTS)
    verdicts = zones.evaluate_batch(lons, lats, types, synthetic.AT)
    refused = [i for i, v in enumerate(verdicts) if not v.ride_end_allowed][:NEAREST_POINTS]
    samples: list[float] = []
    for i in refused:
        start = time.perf_counter()
        zones.nearest_allowed_end(float(lons[i]), float(lats[i]), types[i], synthetic.AT)
        samples.append((time.perf_counter() - start) * 1000)
    return {f"nearest_end_{k}_ms": v for k, v in common.percentiles(samples).items()}


def _optional_nearby() -> dict[str, Any]:
    if importlib.util.find_spec("bench.nearby") is None:
        print("nearby: bench/nearby.py is not there yet, skipped", flush=True)
        return {"nearby_p50_ms": None, "nearby_p99_ms": None}
    nearby = importlib.import_module("bench.nearby")
    figures: dict[str, Any] = nearby.run()
    return figures


def _step(
    title: str, fn: Callable[[CompiledZones], dict[str, float]], zones: CompiledZones
) -> dict[str, float]:
    print(title, flush=True)
    figures = fn(zones)
    for key, value in figures.items():
        _say(key, value, "ms" if key.endswith("_ms") else "points/s")
    return figures


def _describe(zones: CompiledZones, cpu: int | None) -> dict[str, Any]:
    specs = zones.zones
    with common.Timer() as compile_time:
        CompiledZones(specs, zones.global_rules)
    with common.Timer() as index_time:
        _ = zones.cell_index
    lons, lats, _ = synthetic.random_points(2, 10_000)
    inside = np.mean([bool(v.zone_ids) for v in zones.evaluate_batch(lons, lats, None, synthetic.AT)])
    vertices = sum(len(ring) - 1 for z in specs for polygon in z.geometry["coordinates"] for ring in polygon)
    print(
        f"geofence: {len(zones)} zones, {vertices} vertices, compiled in {compile_time.wall_s * 1000:.1f} ms, "
        f"cell index {index_time.wall_s * 1000:.1f} ms; {inside:.0%} of the points are in a zone; "
        f"pinned to CPU {cpu} of {os.cpu_count()}",
        flush=True,
    )
    return {
        "zones": len(zones),
        "vertices": vertices,
        "compile_ms": round(compile_time.wall_s * 1000, 1),
        "cell_index_ms": round(index_time.wall_s * 1000, 1),
    }


def main() -> dict[str, Any]:
    cpu = common.pin_to_one_core()
    zones = CompiledZones(*synthetic.city())
    figures = _describe(zones, cpu)
    figures |= _step("single (evaluate in a loop)", measure_single, zones)
    figures |= _step(f"batched (evaluate_batch, sizes {BATCH_SIZES})", measure_batches, zones)
    figures |= _step("baseline (naive shapely loop over all zones per point)", measure_baseline, zones)
    baseline = figures["baseline_points_per_s"]
    figures["speedup_batched_vs_baseline"] = round(figures["points_per_s_batched"] / baseline, 1)
    figures["speedup_single_vs_baseline"] = round(figures["points_per_s_single"] / baseline, 1)
    _say(
        "speedup batched / single vs baseline",
        f"{figures['speedup_batched_vs_baseline']}x / {figures['speedup_single_vs_baseline']}x",
    )
    figures |= _step("nearest_allowed_end (refused points)", measure_nearest_end, zones)
    figures |= _optional_nearby()
    return figures
