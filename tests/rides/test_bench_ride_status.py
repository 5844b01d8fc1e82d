"""``python -m bench ride_status`` at a tiny scale, so that it cannot rot: it seeds, times the light status, its
304, the track and the launch call against the full detail, and prints its figures as JSON on the last line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_ride_status_bench_runs_at_a_tiny_scale() -> None:
    env = {**os.environ, "BENCH_RIDE_STATUS_ROUNDS": "3", "BENCH_RIDE_STATUS_POINTS": "300",
           "BENCH_RIDE_STATUS_OTHER_RIDES": "2"}
    done = subprocess.run([sys.executable, "-m", "bench", "ride_status"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["status_status"], figures["status_304_status"], figures["full_status"]) == (200, 304, 200)
    assert figures["status_304_bytes"] == 0 < figures["status_bytes"] < figures["full_bytes"]
    assert figures["status_queries"] == 2 and figures["current_queries"] == 3
    assert figures["full_over_status_304"] > 0 and figures["track_points"] == 300
