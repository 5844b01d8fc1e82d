"""``python -m bench telemetry``: the telemetry pipeline end to end, against real PostgreSQL, Redis, Celery workers.

A database of its own (``bench_telemetry_<pid>``) gets the reactions benchmark's city (``bench/_react.py``: 200
zones, 10 000 vehicles, 30 % on a ride), so every batch runs the whole business logic (tracks, geofence, speed
limits, battery, alarms, live pushes). Streams, Celery queues, cache and channel-layer keys carry the database's
name as prefix and are deleted afterwards. Phases, in one run:

1. ``history_copy_rows_per_s``: the history's write path alone, the limit of the pipeline (``ratio_vs_copy`` =
   e2e / this): the same rows (``FIXES`` of every vehicle) through ``telemetry.storage.insert_skipping_duplicates``
   (binary COPY into the staging table, INSERT ... ON CONFLICT DO NOTHING into ``telemetry_reading``: logged,
   partitioned by day, its primary key and BRIN index) in batches of ``TELEMETRY_BATCH_SIZE``, one committed
   transaction each, commits inside the timer; the history is emptied afterwards. ``direct_copy_rows_per_s``: the
   same batches in one binary COPY each straight into the history (no staging, no duplicate check).
   ``temp_copy_rows_per_s``: the same rows in one binary COPY into a temporary copy of the history (no WAL, no
   partitions, commit outside the timer), what COPY alone costs.
2. ``e2e_msgs_per_s``: a Celery worker (``-Q <bench queue> -c 6``: 6 drainer processes) drains while this process
   enqueues 300 000 messages (30 fixes of every vehicle, one message per stream entry, as MQTT delivers them) as
   fast as Redis takes them; rate = messages / (first XADD -> last batch committed).
3. latency at a fixed 5 000 messages/s for ``BENCH_TELEMETRY_LATENCY_S`` seconds, same workers: accepted ->
   committed, from the pipeline's latency histogram (p50/p99 interpolated inside 5-1000 ms buckets).
4. ``naive_msgs_per_s``: a sample (``BENCH_TELEMETRY_NAIVE``, 2 000) through one Celery task per message with ORM
   writes (``bench/_telemetry_naive.py``), 2 worker processes; rate between the first and last task done.
5. ``http_msgs_per_s``: granian serving ``config.wsgi`` (2 workers) as in production; client threads POST JSON
   batches of 50 messages of one vehicle with its credential (no drain during this phase).
6. ``mqtt_msgs_per_s``: the MQTT bridge, measured by ``bench/_mqtt.py`` (its own Mosquitto, publisher processes
   sending one reading per MQTT message at QoS 1, 60 000 readings): rate at which the bridge's ingest accepts them.

Environment: ``BENCH_TELEMETRY_VEHICLES`` (10 000), ``BENCH_TELEMETRY_FIXES`` (30), ``BENCH_TELEMETRY_NAIVE``
(2 000), ``BENCH_TELEMETRY_LATENCY_S`` (10), ``BENCH_TELEMETRY_EDGE_S`` (8), ``BENCH_TELEMETRY_DRAINERS`` (worker
processes draining, 6 as the Procfile's telemetry worker). ``BENCH_TELEMETRY_COPY_ONLY=1`` runs phase 1 alone, on
vehicles that exist only in the rows (no city, no workers).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench import common

ROOT = Path(__file__).resolve().parent.parent
FIXES = int(os.environ.get("BENCH_TELEMETRY_FIXES", "30"))
NAIVE = int(os.environ.get("BENCH_TELEMETRY_NAIVE", "2000"))
LATENCY_S = float(os.environ.get("BENCH_TELEMETRY_LATENCY_S", "10"))
EDGE_S = float(os.environ.get("BENCH_TELEMETRY_EDGE_S", "8"))
DRAINERS = int(os.environ.get("BENCH_TELEMETRY_DRAINERS", "6"))
COPY_ONLY = os.environ.get("BENCH_TELEMETRY_COPY_ONLY", "") == "1"
LATENCY_RATE = 5000
STEP_M = 5.0
HTTP_BATCH = 50


class Fleet:
    """The bench vehicles and their simulated movement (positions advance ``STEP_M`` a second)."""

    def __init__(self, before: list[Any], rng: np.random.Generator) -> None:
        self.ids = [b.vehicle_id for b in before]
        self.codes = [b.code for b in before]
        self.lat = np.array([b.lat for b in before])
        self.lon = np.array([b.lon for b in before])
        self.battery = np.array([b.battery_pct for b in before], dtype=np.int64)
        heading = rng.uniform(0, 2 * math.pi, len(before))
        self.dlat = STEP_M * np.cos(heading) / 111_195.0
        self.dlon = STEP_M * np.sin(heading) / (111_195.0 * np.cos(np.radians(self.lat)))
        self.seq = 0
        self.last_ts = 0
        self.rng = rng

    def fix(self, i: int, ts_ms: int) -> dict[str, Any]:
        """The next message of vehicle ``i`` (its position moves on)."""
        self.lat[i] += self.dlat[i]
        self.lon[i] += self.dlon[i]
        if self.rng.random() < 0.01 and self.battery[i] > 20:
            self.battery[i] -= 1
        message: dict[str, Any] = {"seq": self.seq, "ts": ts_ms, "lat": round(float(self.lat[i]), 6),
                                   "lon": round(float(self.lon[i]), 6), "acc": 4.0, "heading": 90.0,
                                   "speed_kph": 15.0, "battery_pct": int(self.battery[i])}
        if self.rng.random() < 0.0005:
            message["alarms"] = ["tipped_over"]
        return message

    def round(self, ts_ms: int) -> list[tuple[int, dict[str, Any]]]:
        """One message of every vehicle, at ``ts_ms`` or a second after the previous round (device time only
        moves forward, so no phase's fixes are late for the next)."""
        self.seq += 1
        self.last_ts = max(ts_ms, self.last_ts + 1000)
        return [(i, self.fix(i, self.last_ts)) for i in range(len(self.ids))]


# --- processes ---------------------------------------------------------------------------------------------


def _env(database: str, queue: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": common.with_database(os.environ["DATABASE_URL"], database),
            "TELEMETRY_STREAM_PREFIX": database, "TELEMETRY_QUEUE": queue, "CACHE_KEY_PREFIX": database,
            "CHANNEL_LAYER_PREFIX": database, "CELERY_DEFAULT_QUEUE": f"{database}:default", "DEBUG": "0",
            "CELERY_TASK_ALWAYS_EAGER": "0", **extra}


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes], *, group: bool = True) -> None:
    """SIGTERM to the process group, or to the leader only (a Celery worker then shuts down warm: it finishes the
    running tasks, a drain loop within TELEMETRY_DRAIN_SECONDS, and leaves no unacknowledged task behind)."""
    if process.poll() is None:
        if group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _celery(database: str, queue: str, *extra: str, concurrency: int = 2, **env: str) -> subprocess.Popen[bytes]:
    return _start([sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", str(concurrency),
                   "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING", *extra],
                  _env(database, queue, **env))


def _wait(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> float:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)
    return time.perf_counter()



# --- phases ------------------------------------------------------------------------------------------------


def _temp_copy(rows: list[tuple[Any, ...]]) -> float:
    """One binary COPY into a temporary table with the history's columns and indexes, commit not timed."""
    from django.db import connection, transaction

    from telemetry import storage

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bench_copy (LIKE telemetry_reading INCLUDING INDEXES) ON COMMIT DROP")
        with common.Timer() as timer, cursor.cursor.copy(
                f"COPY bench_copy ({', '.join(storage.COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(storage.COPY_TYPES)
            for row in rows:
                copy.write_row(row)
    return common.rate(len(rows), timer.wall_s)


def _history_copy(rows: list[tuple[Any, ...]], *, direct: bool = False) -> float:
    """The rows into ``telemetry_reading`` as a drainer writes them: ``TELEMETRY_BATCH_SIZE`` rows per
    transaction, each through ``storage.insert_skipping_duplicates`` and committed inside the timer (``direct``:
    each batch in one binary COPY straight into the history instead, no staging table, no duplicate check). The
    day partitions are created first (a drainer creates one once a day); the history is emptied afterwards."""
    from django.conf import settings
    from django.db import connection, transaction

    from telemetry import storage

    storage.ensure_partitions({row[2].date() for row in rows})
    size = settings.TELEMETRY_BATCH_SIZE
    skipped = 0
    with common.Timer() as timer:
        for start in range(0, len(rows), size):
            with transaction.atomic():
                if direct:
                    with connection.cursor() as cursor, cursor.cursor.copy(
                            f"COPY {storage.TABLE} ({', '.join(storage.COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(storage.COPY_TYPES)
                        for row in rows[start:start + size]:
                            copy.write_row(row)
                else:
                    skipped += len(storage.insert_skipping_duplicates(rows[start:start + size]))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {storage.TABLE}")
    if skipped:
        raise RuntimeError(f"{skipped} of the bench's history rows were duplicates")
    return common.rate(len(rows), timer.wall_s)


def _copy_phase(fleet: Fleet) -> dict[str, Any]:
    """Phase 1 on ``FIXES`` rounds of every vehicle, decoded as a drainer decodes them."""
    from django.conf import settings

    from telemetry import pipeline

    sample = fleet.round(time.time_ns() // 1_000_000)
    readings, _, _ = pipeline.decode([(b"0", _pack(fleet, i, m)) for i, m in sample])
    rows = [(row[0], row[1] + k * 1000, row[2] + timedelta(seconds=k), *row[3:])
            for k in range(FIXES) for row in map(pipeline.history_row, readings)]
    figures = {"copy_rows": len(rows), "copy_batch": settings.TELEMETRY_BATCH_SIZE,
               "history_copy_rows_per_s": _history_copy(rows),
               "direct_copy_rows_per_s": _history_copy(rows, direct=True), "temp_copy_rows_per_s": _temp_copy(rows)}
    print(f"history write path: {figures['history_copy_rows_per_s']:,.0f} rows/s ({len(rows)} rows, batches of "
          f"{figures['copy_batch']}, committed); COPY straight into the history, same batches: "
          f"{figures['direct_copy_rows_per_s']:,.0f} rows/s; one COPY into a temporary table: "
          f"{figures['temp_copy_rows_per_s']:,.0f} rows/s", flush=True)
    return figures


def _rows_only_fleet(count: int, rng: np.random.Generator) -> Fleet:
    """Vehicles for phase 1 alone: ids and positions around Berlin, no rows in the fleet tables."""
    import uuid
    from types import SimpleNamespace

    before = [SimpleNamespace(vehicle_id=uuid.uuid4(), code=f"B{i:05d}", lat=52.52 + rng.uniform(-0.1, 0.1),
                              lon=13.40 + rng.uniform(-0.15, 0.15), battery_pct=int(rng.integers(30, 100)))
              for i in range(count)]
    return Fleet(before, rng)


def _validated(fleet: Fleet, messages: list[tuple[int, dict[str, Any]]], now_ms: int) -> list[tuple[int, list[Any]]]:
    from telemetry import validation

    return [(i, validation.validate(m, now_ms=now_ms, max_age_ms=86_400_000, max_future_ms=600_000))
            for i, m in messages]


def _enqueue(fleet: Fleet, rows: list[tuple[int, list[Any]]], chunk: int = 2000) -> None:
    """What the edges do after validation: one stream entry per message, pipelined XADDs."""
    from telemetry import ingest, streams

    for start in range(0, len(rows), chunk):
        received = time.time_ns() // 1_000_000
        entries = [(streams.shard_of(fleet.ids[i]), ingest.pack_entry(fleet.ids[i], received, [row]))
                   for i, row in rows[start:start + chunk]]
        streams.append(entries, accepted=len(entries))


def _stats(name: str) -> int:
    from telemetry import streams

    return int(streams.client().hget(streams.key("stats"), name) or 0)


def _e2e(fleet: Fleet, database: str, queue: str) -> tuple[dict[str, Any], subprocess.Popen[bytes]]:
    from telemetry import status, streams, tasks

    streams.ensure_groups()
    worker = _celery(database, queue, concurrency=DRAINERS, TELEMETRY_DRAINERS=str(DRAINERS),
                     TELEMETRY_DRAIN_SECONDS="5")
    for _ in range(DRAINERS):
        tasks.drain.apply_async(queue=queue)
    _wait(lambda: all(streams.client().exists(streams.key(f"drainer:{i}")) for i in range(DRAINERS)), 120,
          "the drainers")
    # The vehicles' positions are from the setup: fixes from now on (up to FIXES s ahead, inside the allowed
    # clock skew) are all fresh, so every one runs the positional reactions.
    now_ms = time.time_ns() // 1_000_000
    rows: list[tuple[int, list[Any]]] = []
    for _ in range(FIXES):
        rows += _validated(fleet, fleet.round(now_ms), now_ms)
    total = len(rows)
    started = time.perf_counter()
    _enqueue(fleet, rows)
    enqueued = time.perf_counter()
    done = _wait(lambda: _stats("messages") >= total, 600, "the workers to commit every message", 0.02)
    snap = status.snapshot()
    return {
        "e2e_messages": total,
        "e2e_msgs_per_s": common.rate(total, done - started),
        "e2e_enqueue_msgs_per_s": common.rate(total, enqueued - started),
        "e2e_avg_batch": snap["avg_batch_size"],
        "e2e_avg_batch_ms": snap["avg_batch_ms"],
        "e2e_new": snap["stats"]["new"],
    }, worker


def _latency(fleet: Fleet) -> dict[str, Any]:
    """``LATENCY_RATE`` messages/s in ticks of 10 ms for ``LATENCY_S`` seconds; the drainers keep running."""
    from telemetry import status

    status.reset_counters()
    total = int(LATENCY_RATE * LATENCY_S)
    per_tick = LATENCY_RATE // 100
    pending: list[tuple[int, dict[str, Any]]] = []
    sent, started = 0, time.perf_counter()
    while sent < total:
        if not pending:
            pending = fleet.round(time.time_ns() // 1_000_000)
        batch, pending = pending[:per_tick], pending[per_tick:]
        _enqueue(fleet, _validated(fleet, batch, time.time_ns() // 1_000_000))
        sent += len(batch)
        pause = started + sent / LATENCY_RATE - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    offered = common.rate(sent, time.perf_counter() - started)
    _wait(lambda: _stats("messages") >= sent, 120, "the latency phase to drain")
    snap = status.snapshot()
    return {"latency_offered_msgs_per_s": offered, "p50_latency_ms": snap["latency_ms_p50"],
            "p99_latency_ms": snap["latency_ms_p99"]}


def _naive(fleet: Fleet, database: str) -> dict[str, Any]:
    from bench import _telemetry_naive
    from telemetry import streams

    queue = f"{database}:naive"
    now_ms = time.time_ns() // 1_000_000
    count = 0
    while count < NAIVE:
        for i, message in fleet.round(now_ms)[: NAIVE - count]:
            _telemetry_naive.apply_one.apply_async(args=(str(fleet.ids[i]), message, now_ms), queue=queue)
            count += 1
    done_key = streams.key(_telemetry_naive.DONE_KEY)
    worker = _celery(database, queue, "-I", "bench._telemetry_naive")
    try:
        first = _wait(lambda: int(streams.client().get(done_key) or 0) >= 1, 120, "the first naive task", 0.01)
        last = _wait(lambda: int(streams.client().get(done_key) or 0) >= NAIVE, 600, "the naive tasks", 0.01)
    finally:
        _stop(worker, group=False)
        streams.client().delete(queue)
    return {"naive_messages": NAIVE, "naive_msgs_per_s": common.rate(NAIVE - 1, last - first)}


def _credentials(fleet: Fleet, count: int) -> list[tuple[int, str]]:
    from fleet import services as fleet_services

    return [(i, fleet_services.vehicle_credential_rotate(vehicle_id=fleet.ids[i])) for i in range(count)]


def _http(fleet: Fleet, database: str, credentials: list[tuple[int, str]]) -> dict[str, Any]:
    import requests

    port = common.free_port()
    server = _start([str(Path(sys.executable).parent / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                     "--blocking-threads", "4", "config.wsgi:application"], _env(database, f"{database}:telemetry"))
    url = f"http://127.0.0.1:{port}/api/v1/telemetry"
    accepted = [0]
    lock = threading.Lock()
    try:
        _wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), 60, "granian")
        stop_at = [0.0]

        def client(share: list[tuple[int, str]]) -> None:
            session = requests.Session()
            seq, mine = 10_000_000, 0
            while time.perf_counter() < stop_at[0]:
                for i, secret in share:
                    now = time.time_ns() // 1_000_000
                    body = [{**fleet.fix(i, now), "seq": seq + k} for k in range(HTTP_BATCH)]
                    seq += HTTP_BATCH
                    r = session.post(url, data=json.dumps(body), headers={
                        "Authorization": f"Vehicle {fleet.codes[i]}:{secret}", "Content-Type": "application/json"})
                    r.raise_for_status()
                    mine += r.json()["accepted"]
                    if time.perf_counter() >= stop_at[0]:
                        break
            with lock:
                accepted[0] += mine

        warm = requests.Session()  # one request per vehicle: the credential cache is warm, as in steady state
        for i, secret in credentials:
            warm.post(url, json=[fleet.fix(i, time.time_ns() // 1_000_000)],
                      headers={"Authorization": f"Vehicle {fleet.codes[i]}:{secret}"}).raise_for_status()
        threads = [threading.Thread(target=client, args=(credentials[n::6],)) for n in range(6)]
        started = time.perf_counter()
        stop_at[0] = started + EDGE_S
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        _stop(server)
    return {"http_msgs_per_s": common.rate(accepted[0], elapsed), "http_batch": HTTP_BATCH}


def _up(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _mqtt() -> dict[str, Any]:
    """The bridge's rate measured by ``bench/_mqtt.py``: its own Mosquitto (the shared broker drops QoS 1 messages
    past 1,000 queued for a slow subscriber, so some published readings would never arrive), 2,000 vehicles of
    their own, publisher processes, readings accepted into the streams per second."""
    from bench import _mqtt

    return _mqtt.measure(_mqtt.create_vehicles(int(os.environ.get("BENCH_MQTT_VEHICLES", "2000"))),
                         messages=int(os.environ.get("BENCH_MQTT_MESSAGES", "60000")))


def _cleanup_celery_keys(*queues: str) -> None:
    from telemetry import streams

    client = streams.client()
    for queue in queues:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def main() -> dict[str, Any]:
    from django.conf import settings

    from bench import _react

    figures: dict[str, Any] = {}
    wall = time.perf_counter()
    vehicles = int(os.environ.get("BENCH_TELEMETRY_VEHICLES", "10000"))
    with common.django_database("telemetry") as database:
        queue = f"{database}:telemetry"
        settings.TELEMETRY_STREAM_PREFIX, settings.TELEMETRY_QUEUE = database, queue
        rng = np.random.default_rng(5)
        if COPY_ONLY:
            figures |= _copy_phase(_rows_only_fleet(vehicles, rng))
            figures["vehicles"] = vehicles
            return figures
        _react.VEHICLES = vehicles
        city, types = _react.make_city()
        before = _react.make_fleet(city, types, rng)
        fleet = Fleet(before, rng)
        print(f"{len(before)} vehicles in a city of 200 zones ({time.perf_counter() - wall:.0f} s setup)", flush=True)
        figures |= _copy_phase(fleet)
        worker = None
        try:
            result, worker = _e2e(fleet, database, queue)
            figures |= result
            print(f"end to end: {figures['e2e_msgs_per_s']:,.0f} msg/s for {result['e2e_messages']} messages "
                  f"(enqueue {result['e2e_enqueue_msgs_per_s']:,.0f} msg/s, avg batch {result['e2e_avg_batch']} "
                  f"messages in {result['e2e_avg_batch_ms']} ms)", flush=True)
            figures |= _latency(fleet)
            print(f"latency at {figures['latency_offered_msgs_per_s']:,.0f} msg/s offered: p50 "
                  f"{figures['p50_latency_ms']} ms, p99 {figures['p99_latency_ms']} ms", flush=True)
        finally:
            if worker is not None:
                _stop(worker, group=False)
        figures |= _naive(fleet, database)
        print(f"naive (task per message, ORM): {figures['naive_msgs_per_s']:,.0f} msg/s on {NAIVE} messages",
              flush=True)
        credentials = _credentials(fleet, 300)
        figures |= _http(fleet, database, credentials)
        print(f"HTTP edge (granian, 2 workers, batches of {HTTP_BATCH}): {figures['http_msgs_per_s']:,.0f} msg/s",
              flush=True)
        figures |= _mqtt()
        print(f"MQTT bridge: {figures['mqtt_msgs_per_s']:,.0f} msg/s ({figures['mqtt_bridge_cpu_msgs_per_s']:,.0f}/s "
              f"per core of bridge CPU), lost {figures['mqtt_lost']:.0f}", flush=True)
        # The reactions' own tasks (speed-limit commands) went to the workers' default queue: nobody runs them here.
        _cleanup_celery_keys(queue, f"{database}:naive", f"{database}:default")
    figures["ratio_vs_naive"] = round(figures["e2e_msgs_per_s"] / figures["naive_msgs_per_s"], 1)
    figures["ratio_vs_copy"] = round(figures["e2e_msgs_per_s"] / figures["history_copy_rows_per_s"], 3)
    figures["vehicles"] = len(before)
    print(f"ratio vs naive {figures['ratio_vs_naive']}x, vs the history write path {figures['ratio_vs_copy']}; "
          f"{time.perf_counter() - wall:.0f} s in all", flush=True)
    return figures


def _pack(fleet: Fleet, i: int, message: dict[str, Any]) -> bytes:
    from telemetry import ingest, validation

    row = validation.validate(message, now_ms=time.time_ns() // 1_000_000, max_age_ms=86_400_000,
                              max_future_ms=600_000)
    return ingest.pack_entry(fleet.ids[i], time.time_ns() // 1_000_000, [row])


