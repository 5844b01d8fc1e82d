"""``python -m bench asgi``: the PostgreSQL connections of an ASGI (Daphne) process, and what each way of
managing them costs.

Under ASGI, Django runs each sync request in a thread of its own: a connection kept for ``CONN_MAX_AGE`` is never
reused there (Channels runs the sockets' ``database_sync_to_async`` calls on one thread per process, which reuses
its connection). Three configurations of the same Daphne process (``daphne config.asgi:application``, the
Procfile's ws command) on a database of its own (``bench_asgi_<pid>``), results in docs/operations.md
("Database connections"):

- ``persistent``: ``ASGI_SERVER=0``, what every ASGI process did before: ``CONN_MAX_AGE`` 60 s;
- ``close``: ``ASGI_SERVER=1 ASGI_DB_POOL_SIZE=0``: ``CONN_MAX_AGE`` 0, a connection per request or database call;
- ``pool``: ``ASGI_SERVER=1`` (what config.asgi sets): Django's psycopg pool of ``ASGI_DB_POOL_SIZE`` (10).

Workloads, each on a fresh Daphne process: ``BENCH_ASGI_REQUESTS`` one after the other (one client), then as many
from ``BENCH_ASGI_CONCURRENCY`` clients at once (keep-alive HTTP connections, one socket after the other each):

- ``readyz``: ``GET /readyz`` (a query, the migration plan, a Redis ping);
- ``me``: ``GET /api/v1/me`` with a JWT (DRF: authentication reads the user, the view serializes it);
- ``socket``: ``/ws/v1/fleet?city=`` as ops staff, until the snapshot, then closed: the JWT middleware, the access
  check and the snapshot (50 vehicles) each read the database through ``database_sync_to_async``.

Per configuration, workload and phase: requests/s, client p50/p99 (ms), Daphne's CPU ms per request (robust on a
busy machine, unlike the latencies), ``backends_peak`` (most PostgreSQL connections the process held, sampled every
20 ms by ``application_name``) and ``backends_end`` (what it still held afterwards); per process,
``connections_opened`` (sessions the database counted from its start to its exit). A phase stops early once the
process holds more than ``BENCH_ASGI_MAX_BACKENDS`` (30) connections (``aborted``): the PostgreSQL server is shared.
``BENCH_ASGI_CONFIGS`` and ``BENCH_ASGI_WORKLOADS`` pick some (comma-separated; default all).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from bench import common

ROOT = Path(__file__).resolve().parent.parent
APPLICATION_NAME = "bench_asgi_daphne"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "persistent": {"ASGI_SERVER": "0"},
    "close": {"ASGI_SERVER": "1", "ASGI_DB_POOL_SIZE": "0"},
    "pool": {"ASGI_SERVER": "1"},
}
WORKLOADS = ("readyz", "me", "socket")
VEHICLES = 50


def _setting(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def main() -> dict[str, Any]:
    requests, concurrency = _setting("BENCH_ASGI_REQUESTS", 300), _setting("BENCH_ASGI_CONCURRENCY", 16)
    limit = _setting("BENCH_ASGI_MAX_BACKENDS", 30)
    names, workloads = _choice("BENCH_ASGI_CONFIGS", list(CONFIGURATIONS)), _choice("BENCH_ASGI_WORKLOADS", WORKLOADS)
    figures: dict[str, Any] = {"requests": requests, "concurrency": concurrency, "host_cpu_ms": common.host_cpu_ms()}
    with common.django_database("asgi") as database:
        data = _data()
        base_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database}"
        from django.db import connections

        connections.close_all()  # the bench's own connection is not the server's
        for name in names:
            for workload in workloads:
                run = _Run(database, base_url, CONFIGURATIONS[name], limit)
                try:
                    _warm_up(run.port, workload, data)
                    for mode, clients in (("sequential", 1), ("concurrent", concurrency)):
                        result = run.phase(workload, data, requests=requests, clients=clients)
                        figures[f"{name}_{workload}_{mode}"] = result
                        print(f"{name:>10} {workload:>6} {mode:>10}: {_line(result)}", flush=True)
                finally:
                    opened = run.stop()
                figures[f"{name}_{workload}_connections_opened"] = opened
                print(f"{name:>10} {workload:>6} connections opened by the process: {opened}", flush=True)
    return figures


def _choice(variable: str, known: Sequence[str]) -> list[str]:
    chosen = [n.strip() for n in os.environ.get(variable, ",".join(known)).split(",") if n.strip()]
    if unknown := set(chosen) - set(known):
        raise SystemExit(f"{variable}: unknown {sorted(unknown)}; known: {', '.join(known)}")
    return chosen


def _line(result: dict[str, Any]) -> str:
    return (f"{result['rps']:>7} req/s  p50 {result['p50_ms']:>7} ms  p99 {result['p99_ms']:>8} ms  "
            f"cpu {result['daphne_cpu_ms_per_request']:>5} ms/req  backends peak {result['backends_peak']:>3} "
            f"end {result['backends_end']:>3}  errors {result['errors']}" + ("  ABORTED" if result["aborted"] else ""))


def _data() -> dict[str, Any]:
    """A city with vehicles, a rider (``/api/v1/me``) and an ops fleet manager (the fleet socket), their JWTs."""
    from datetime import timedelta

    from django.contrib.auth.models import Group
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from fleet import grid
    from fleet.models import Vehicle

    city, vtype = common.ride_city("bench-asgi")
    places = [(52.5 + i / 10_000, 13.4) for i in range(VEHICLES)]
    Vehicle.objects.bulk_create(
        Vehicle(code=f"A{i:05d}", imei=f"97{i:013d}", vehicle_type=vtype, city=city, status="available",
                battery_pct=90, lat=lat, lon=lon, cell=grid.cell_of(lat, lon)) for i, (lat, lon) in enumerate(places))
    rider = User.objects.create_user(email="rider@example.com", password=None)
    staff = User.objects.create_user(email="ops@example.com", password=None, is_staff=True)
    staff.groups.add(Group.objects.get(name="fleet_manager"))
    from fleet import services as fleet_services

    fleet_services.staff_cities_set(user=staff, cities=[], all_cities=True, by=None)  # staff see no city otherwise

    def token(user: Any) -> str:
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=timedelta(hours=2))
        return str(access)

    return {"city": str(city.id), "rider": token(rider), "staff": token(staff)}


class _Run:
    """One Daphne process serving ``config.asgi`` with a configuration, and a sampler of its connections."""

    def __init__(self, database: str, base_url: str, configuration: dict[str, str], limit: int) -> None:
        self.limit = limit
        self.watch = psycopg.connect(base_url, autocommit=True)
        self.sessions_before = self._sessions()
        self.port = common.free_port()
        env = {**os.environ, "DATABASE_URL": f"{base_url}?application_name={APPLICATION_NAME}",
               "CHANNEL_LAYER_PREFIX": database, "CACHE_KEY_PREFIX": database, "LOG_LEVEL": "WARNING",
               **configuration}
        self.process = subprocess.Popen([sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port",
                                         str(self.port), "--access-log", os.devnull, "config.asgi:application"],
                                        cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("daphne did not come up") from None
                time.sleep(0.2)

    def backends(self) -> int:
        row = self.watch.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                 [APPLICATION_NAME]).fetchone()
        return int(row[0]) if row else 0

    def _sessions(self) -> int:
        self.watch.execute("SELECT pg_stat_clear_snapshot()")
        row = self.watch.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else 0

    def phase(self, workload: str, data: dict[str, Any], *, requests: int, clients: int) -> dict[str, Any]:
        abort, done = threading.Event(), threading.Event()
        peak = [self.backends()]

        def sample() -> None:
            while not done.wait(0.02):
                peak[0] = max(peak[0], count := self.backends())
                if count > self.limit:
                    abort.set()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        cpu_before = common.cpu_seconds(self.process.pid) or 0.0
        samples, errors, wall = _drive(self.port, workload, data, requests=requests, clients=clients, abort=abort)
        cpu = (common.cpu_seconds(self.process.pid) or 0.0) - cpu_before
        done.set()
        sampler.join()
        time.sleep(0.5)  # what the process still holds once the clients are gone
        served = len(samples)
        latencies = common.percentiles(samples) if samples else {"p50": 0.0, "p99": 0.0}
        return {
            "served": served, "errors": errors, "aborted": abort.is_set(), "rps": common.rate(served, wall),
            "p50_ms": latencies["p50"], "p99_ms": latencies["p99"],
            "daphne_cpu_ms_per_request": round(cpu * 1000 / served, 2) if served else None,
            "backends_peak": max(peak[0], self.backends()), "backends_end": self.backends(),
        }

    def stop(self) -> int:
        """Stops Daphne; returns how many connections it opened in its life."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        time.sleep(1.0)  # the server counts a session when it ends
        opened = self._sessions() - self.sessions_before
        self.watch.close()
        return opened



def _client(port: int, workload: str, data: dict[str, Any]) -> tuple[Callable[[], bool], Callable[[], None]]:
    """One client: a function doing one request (True when it succeeded) and one closing the client."""
    if workload == "socket":
        from websockets.sync.client import connect

        url = f"ws://127.0.0.1:{port}/ws/v1/fleet?city={data['city']}"
        headers = {"Authorization": f"Bearer {data['staff']}"}

        def open_socket() -> bool:
            with connect(url, additional_headers=headers, open_timeout=60, close_timeout=10) as ws:
                return bool(json.loads(ws.recv(timeout=60))["type"] == "snapshot")

        return open_socket, lambda: None
    path, auth = {"readyz": ("/readyz", {}),
                  "me": ("/api/v1/me", {"Authorization": f"Bearer {data['rider']}"})}[workload]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # keep-alive, as a proxy's upstream pool

    def get() -> bool:
        conn.request("GET", path, headers=auth)
        response = conn.getresponse()
        response.read()
        return response.status == 200

    return get, conn.close


def _drive(port: int, workload: str, data: dict[str, Any], *, requests: int, clients: int,
           abort: threading.Event) -> tuple[list[float], int, float]:
    """``requests`` requests from ``clients`` threads; returns the latencies (ms), the failures and the wall time."""
    samples: list[float] = []
    errors = [0]
    left = [requests]
    lock = threading.Lock()

    def work() -> None:
        request, close = _client(port, workload, data)
        try:
            while not abort.is_set():
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                started = time.perf_counter()
                try:
                    ok = request()
                except Exception:  # noqa: BLE001 - counted: a refused or failed request is a figure here
                    ok = False
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    samples.append(elapsed)
                    errors[0] += not ok
        finally:
            close()

    threads = [threading.Thread(target=work) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples, errors[0], time.perf_counter() - started


def _warm_up(port: int, workload: str, data: dict[str, Any]) -> None:
    request, close = _client(port, workload, data)
    try:
        for _ in range(10):
            if not request():
                raise RuntimeError(f"{workload}: the warm-up request failed")
    finally:
        close()
