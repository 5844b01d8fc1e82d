"""Crash-and-reclaim with real Celery worker processes: a worker is killed (SIGKILL) in the middle of a batch;
another worker takes the entries over. Nothing is lost, nothing is applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from config import env
from fleet.models import Vehicle
from telemetry import ingest, status, streams, tasks
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # a Celery worker process, killed mid-batch


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def worker(transactional_db: Any) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    queue = f"test-telemetry-{uuid.uuid4().hex[:8]}"
    environ = {**os.environ, "DATABASE_URL": env.database_url(connection.settings_dict),
               "REDIS_URL": settings.REDIS_URL,
               "TELEMETRY_QUEUE": queue, "TELEMETRY_RECLAIM_IDLE_S": "2", "TELEMETRY_DRAIN_SECONDS": "3",
               "TELEMETRY_DRAINERS": "4", "CELERY_TASK_ALWAYS_EAGER": "0", "DEBUG": "1"}
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
            cwd=ROOT, env=environ, start_new_session=True,
        )
        started.append(process)
        tasks.drain.apply_async(queue=queue)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    streams.client().delete(queue)


def test_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(worker: Any) -> None:
    vehicles: list[Any] = [VehicleFactory(position_at=datetime(2020, 1, 1, tzinfo=UTC)) for _ in range(20)]
    t = now_ms()
    for v in vehicles:
        ingest.ingest(v.id, [message(seq, ts=t - (10 - seq) * 1000, lat=52.5 + seq / 1000, lon=13.4,
                                     odometer_m=seq * 100) for seq in range(10)])
    blocker = psycopg.connect(env.database_url(connection.settings_dict), autocommit=False)
    try:
        # Hold every vehicle row: the worker's batch blocks on its UPDATE, after the COPY, inside its transaction.
        blocker.execute("SELECT id FROM fleet_vehicle FOR UPDATE")
        first = worker()
        _wait(lambda: status.snapshot()["pending"] > 0, 180, "the worker to read a batch")
        # Polled from a connection of its own: inside the blocker's transaction pg_stat_activity is a snapshot
        # taken at its first read, and would never show a wait that began after it.
        with psycopg.connect(env.database_url(connection.settings_dict), autocommit=True) as watcher:
            _wait(lambda: watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone() != (0,),
                30, "the batch to wait for the vehicle rows")
        os.killpg(first.pid, signal.SIGKILL)  # the whole worker: parent and its pool process
        first.wait()
    finally:
        blocker.rollback()
        blocker.close()
    # Only this test's vehicles: the history is an unmanaged (partitioned) table that a transactional test's flush
    # does not empty, so earlier tests' readings may be there.
    points = HistoryPoint.objects.filter(vehicle_id__in=[v.id for v in vehicles])
    assert points.count() == 0  # the killed batch never committed
    assert status.snapshot()["pending"] > 0  # and its entries were never acknowledged

    worker()  # a new worker reclaims them once TELEMETRY_RECLAIM_IDLE_S has passed
    _wait(lambda: status.snapshot()["backlog"] == 0, 180, "the new worker to apply everything")
    assert points.count() == 200
    for stored in Vehicle.objects.filter(id__in=[v.id for v in vehicles]):
        assert (round(stored.lat or 0, 3), stored.odometer_meters) == (52.509, 900)
    snap = status.snapshot()
    assert snap["stats"]["new"] == 200
    assert snap["stats"]["reclaimed"] > 0
