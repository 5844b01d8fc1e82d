"""The bench package: helpers, the synthetic city, the baseline's agreement with the engine, the runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psycopg
import pytest
import redis

from bench import _geofence_city as synthetic
from bench import common
from bench import geofence as geofence_bench
from bench.__main__ import available
from bench.__main__ import main as bench_main
from fleet.geofence import CompiledZones, ZoneKind

ROOT = Path(__file__).resolve().parents[2]


def test_percentiles_and_rate() -> None:
    assert common.percentiles([1.0, 2.0, 3.0, 4.0]) == {"p50": 2.5, "p99": 3.97}
    assert common.percentiles([5.0], (50, 90, 99)) == {"p50": 5.0, "p90": 5.0, "p99": 5.0}
    assert common.rate(1000, 0.5) == 2000.0
    with pytest.raises(ValueError, match="no samples"):
        common.percentiles([])


def test_timer_measures_wall_and_cpu() -> None:
    with common.Timer() as t:
        sum(i * i for i in range(200_000))
    assert t.wall_s > 0 and t.cpu_s > 0


def test_synthetic_city_is_what_the_benchmark_claims() -> None:
    zones, global_rules = synthetic.city()
    assert len(zones) == 200 and len({z.id for z in zones}) == 200
    vertices = [len(z.geometry["coordinates"][0][0]) - 1 for z in zones]
    assert min(vertices) >= 10 and max(vertices) <= 60
    assert zones[-1].kind == ZoneKind.OPERATING_AREA
    scheduled = [z for z in zones if z.start is not None]
    assert 15 <= len(scheduled) <= 60
    assert any(z.active_at(synthetic.AT) for z in scheduled) and not all(
        z.active_at(synthetic.AT) for z in scheduled
    )
    assert sum(any(r.vehicle_type_ids for r in z.rules) for z in zones) >= 25
    compiled = CompiledZones(zones, global_rules)
    lons, lats, types = synthetic.random_points(5, 2_000)
    verdicts = compiled.evaluate_batch(lons, lats, types, synthetic.AT)
    assert sum(len(v.zone_ids) > 1 for v in verdicts) > 500  # zones overlap
    assert len({v.zone_id for v in verdicts}) > 50
    assert synthetic.city()[0] == zones  # seeded: the same city every run


def test_naive_baseline_agrees_with_the_engine() -> None:
    zones = CompiledZones(*synthetic.city())
    lons, lats, types = synthetic.random_points(6, 300)
    ts = synthetic.AT.timestamp()
    naive = [
        geofence_bench.naive_evaluate(zones, x, y, t, ts) for x, y, t in zip(lons, lats, types, strict=True)
    ]
    single = [
        geofence_bench._decision(zones.evaluate(x, y, t, synthetic.AT))
        for x, y, t in zip(lons, lats, types, strict=True)
    ]
    assert naive == single
    assert len(set(naive)) > 3


def test_runner_lists_benchmarks_and_refuses_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert "geofence" in available() and "common" not in available()
    with pytest.raises(SystemExit, match="unknown benchmark 'nope'"):
        bench_main(["nope"])


def test_batch_figures_are_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(geofence_bench, "BATCH_POINTS", 10_000)
    zones = CompiledZones(*synthetic.city())
    figures = geofence_bench.measure_batches(zones)
    sizes = [figures[f"points_per_s_batch_{s}"] for s in geofence_bench.BATCH_SIZES]
    assert figures["points_per_s_batched"] == min(sizes) > 0
    assert np.isfinite(sizes).all()


@pytest.mark.slow
def test_django_database_is_created_namespaced_and_removed() -> None:
    # A child process: pytest-django already owns this process's Django connections.
    script = textwrap.dedent(
        """
        import json, os
        import redis
        from bench import common
        with common.django_database("selftest", migrate=False) as name:
            from django.core.cache import cache
            from django.db import connection
            with connection.cursor() as cursor:
                cursor.execute("select current_database()")
                current = cursor.fetchone()[0]
            cache.set("probe", 1)
            keys = len(list(redis.Redis.from_url(os.environ["REDIS_URL"]).scan_iter(match=name + "*")))
            print(json.dumps({"name": name, "current": current, "pid": os.getpid(), "keys": keys}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["name"] == seen["current"] == f"bench_selftest_{seen['pid']}"
    assert seen["keys"] == 1
    with psycopg.connect(common.with_database(os.environ["DATABASE_URL"], "postgres")) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [seen["name"]]).fetchone()
    assert exists is None
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    assert list(client.scan_iter(match=f"{seen['name']}*")) == []


def test_runner_prints_the_figures_as_json_on_the_last_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_main() -> dict[str, object]:
        print("readable figures first")
        return {"points_per_s_batched": 1.5, "nearby_p99_ms": None}

    monkeypatch.setattr(geofence_bench, "main", fake_main)
    assert bench_main(["geofence"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "readable figures first"
    assert json.loads(lines[-1]) == {"points_per_s_batched": 1.5, "nearby_p99_ms": None}


def test_runner_exits_non_zero_when_the_benchmark_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("database went away")

    monkeypatch.setattr(geofence_bench, "main", broken)
    assert bench_main(["geofence"]) == 1
    captured = capsys.readouterr()
    assert "database went away" in captured.err and captured.out == ""
    monkeypatch.setattr(geofence_bench, "main", lambda: [1, 2])
    assert bench_main(["geofence"]) == 1
    assert "returned list, expected a dict of figures" in capsys.readouterr().err
