"""``python -m bench admin`` at a tiny scale, so that it cannot rot: it seeds, times every admin page and the
map's snapshot, and prints its figures as JSON on the last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import _admin_seed

ROOT = Path(__file__).resolve().parents[2]


def test_the_counts_scale_and_the_map_city_has_a_tenth_of_the_fleet() -> None:
    full = _admin_seed.Counts.at(1)
    assert (full.vehicles, full.events, full.rides, full.ledger_entries, full.telemetry) == (
        100_000, 10_000_000, 1_000_000, 5_000_000, 50_000_000)
    assert _admin_seed.Counts.at(0.01).events == 100_000
    shares = {slug: share for slug, *_, share in _admin_seed.CITIES}
    assert abs(sum(shares.values()) - 1) < 1e-9
    assert _admin_seed.city_vehicles(full.vehicles, _admin_seed.MAP_CITY) == 10_000
    assert sum(_admin_seed.city_vehicles(50, slug) for slug in shares) == 50


@pytest.mark.slow
def test_the_admin_bench_runs_at_a_tiny_scale() -> None:
    env = {**os.environ, "BENCH_ADMIN_SCALE": "0.0005", "BENCH_ADMIN_REQUESTS": "1", "BENCH_ADMIN_MAP_RUNS": "1"}
    env.pop("BENCH_ADMIN_DATABASE", None)
    done = subprocess.run([sys.executable, "-m", "bench", "admin"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("admin_worst_p95_ms", "admin_worst_page", "dashboard_p95_ms", "map_snapshot_ms", "admin_scale"):
        assert figures[key] is not None, key
    assert figures["admin_scale"] == 0.0005 and figures["admin_pages_failed"] == []
    assert figures["admin_pages"] > 60  # every model's list, change page, filters and search
    berlin = _admin_seed.city_vehicles(figures["counts"]["vehicles"], "berlin")
    assert 0 < figures["map_snapshot_vehicles"] <= berlin  # retired vehicles are not on the map
    assert figures["counts"]["events"] == 5000 and figures["seed_s"] > 0
