"""Helpers for benchmarks: a throw-away PostgreSQL database and Redis namespace, Django on top, timers.

    with common.django_database("nearby"):      # creates bench_nearby_<pid>, migrates, drops it afterwards
        ...ORM code...
    with common.Timer() as t: work()           # t.wall_s, t.cpu_s
    common.percentiles(samples_ms)             # {"p50": ..., "p99": ...}

Real services only: the database is created from ``DATABASE_URL`` on the same server (``CREATE DATABASE``
needs that role's CREATEDB right); Django's cache and the channel layer get a key prefix of their own in the
``REDIS_URL`` database, and those keys are deleted afterwards.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent


def bench_name(name: str) -> str:
    return f"bench_{name}_{os.getpid()}"


def _require(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise RuntimeError(f"{variable} is not set: benchmarks run against real PostgreSQL and Redis")
    return value


def with_database(url: str, database: str) -> str:
    """``url`` (a DATABASE_URL) naming ``database`` instead: same server, user and options (``?sslmode=...``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(url: str, statement: sql.Composed) -> None:
    # CREATE/DROP DATABASE cannot run in a transaction: autocommit, through the server's "postgres" database.
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


def create_database(base_url: str, database: str) -> None:
    """Create an empty database on the server of ``base_url``."""
    _admin(base_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database(base_url: str, database: str) -> None:
    _admin(base_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def delete_redis_keys(redis_url: str, prefix: str) -> int:
    """Delete every key that starts with ``prefix``; returns how many."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def setup_django() -> None:
    """``django.setup()`` with ``config.settings`` (reads the environment; connects to nothing).

    ``python -m bench`` calls it first: fleet.geojson -> core.errors -> DRF needs the app registry at import.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A benchmark runs with DEBUG off, as production does, also when the developer's shell exports DEBUG=1 (the
    # Makefile's default): every subprocess a bench starts (Daphne, drainers) inherits this environment. With
    # DEBUG on, every query went through Django's debug cursor. Its throw-away database needs no stable secret.
    # A bench drives the simulated gateway and the test PSP: it allows the fakes by name, as a staging deployment
    # would (with DEBUG off, start-up refuses them otherwise: core.checks, docs/security.md).
    from django.conf import settings

    if not settings.configured:  # (a test calling a bench in process keeps its own settings and environment)
        os.environ["DEBUG"] = "0"
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
        os.environ["ALLOW_FAKE_SERVICES"] = "testpsp,gateway,sms,push,email"
        os.environ.setdefault("BILLING_TESTPSP_WEBHOOK_SECRET", secrets.token_urlsafe(32))
    import django

    django.setup()


def point_django_at(database: str, prefix: str) -> tuple[str, str | None]:
    """Make the default connection use ``database`` and the cache/channel layer use ``prefix``.

    Works after ``django.setup()``: the connection handler and new cache instances read these same dicts;
    an already created cache instance gets its prefix set directly. Returns the previous values.
    """
    from django.conf import settings
    from django.core.cache import caches
    from django.db import connections

    connections.close_all()
    previous = (settings.DATABASES["default"]["NAME"], settings.CACHES["default"].get("KEY_PREFIX"))
    settings.DATABASES["default"]["NAME"] = database
    settings.CACHES["default"]["KEY_PREFIX"] = prefix
    caches["default"].key_prefix = prefix
    layer = cast(dict[str, Any], settings.CHANNEL_LAYERS["default"]["CONFIG"])
    layer["prefix"] = prefix
    return previous


@contextmanager
def django_database(name: str, *, migrate: bool = True) -> Iterator[str]:
    """Run Django against a fresh database ``bench_<name>_<pid>``; dropped (and Redis keys deleted) after."""
    base_url, redis_url = _require("DATABASE_URL"), _require("REDIS_URL")
    database = bench_name(name)
    setup_django()
    create_database(base_url, database)
    previous = point_django_at(database, database)
    try:
        if migrate:
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
        yield database
    finally:
        point_django_at(previous[0], previous[1] or "")
        drop_database(base_url, database)
        delete_redis_keys(redis_url, database)
        for kind in ("binding", "binding_permanent"):  # kombu's bindings of the bench's own Celery queues
            delete_redis_keys(redis_url, f"_kombu.{kind}.{database}")


class Timer:
    """Wall-clock and process CPU time of a block (CPU time is robust when the machine is busy)."""

    def __enter__(self) -> Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.wall_s = time.perf_counter() - self._wall
        self.cpu_s = time.process_time() - self._cpu


def percentiles(samples: Sequence[float], points: Sequence[int] = (50, 99)) -> dict[str, float]:
    """``{"p50": ..., "p99": ...}`` of the samples (linear interpolation), rounded to 3 decimals."""
    if not samples:
        raise ValueError("no samples")
    values = np.percentile(np.asarray(samples, dtype=np.float64), list(points))
    return {f"p{p}": round(float(v), 3) for p, v in zip(points, values, strict=True)}


def cpu_seconds(pid: int, *, children: bool = False) -> float | None:
    """CPU seconds (user + system) used so far by a process (and, with ``children``, its descendants: granian's
    workers); None once it is gone. A server's CPU per request does not depend on how busy the machine is, unlike
    its latencies."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)] if children else [root]
        return sum(p.cpu_times().user + p.cpu_times().system for p in processes)
    except psutil.Error:
        return None


def pin_to_one_core() -> int | None:
    """Restrict this process to one CPU, the idlest over a short sample (figures are then single-core by
    construction, and a shared machine's busiest core is avoided)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    first = _idle_ticks()
    time.sleep(0.3)
    second = _idle_ticks()
    cpu = max(allowed, key=lambda c: second.get(c, 0) - first.get(c, 0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _idle_ticks() -> dict[int, int]:
    """Idle + iowait ticks per CPU from /proc/stat (empty where there is no /proc)."""
    ticks: dict[int, int] = {}
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit():
                    ticks[int(name[3:])] = int(fields[3]) + int(fields[4])
    except OSError:
        pass
    return ticks


def host_cpu_ms(rounds: int = 5) -> float:
    """CPU milliseconds this host needs for a fixed piece of pure Python (JSON, dicts, sorting: what the
    platform's processes do), the median of ``rounds``. Process CPU time, so waiting for a core does not count;
    a host that runs the same code slower (a busy neighbour on the hypervisor, a lower clock) shows here. Lets
    figures from different days be read side by side: 86-87 ms on a quiet development machine (2026-12-03)."""
    import json

    payload = {"type": "ride.updated", "seq": 1, "data": {"state": "on_trip", "elapsed_s": 321, "cost": "2.35",
                                                            "lat": 52.52, "lon": 13.405, "battery_pct": 87,
                                                            "at": "2026-12-03T17:00:00+00:00"}}
    spent = []
    for _ in range(rounds):
        started = time.process_time()
        for i in range(12_000):
            body = json.loads(json.dumps({**payload, "seq": i}))
            sorted(body["data"].items())
        spent.append((time.process_time() - started) * 1000)
    return round(sorted(spent)[len(spent) // 2], 1)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def ride_city(slug: str) -> tuple[Any, Any]:
    """A bench city (Europe/Berlin, EUR) with one operating area around Berlin, a scooter type and a published
    tariff (1.00 unlock, 0.25/min, 0.10/min paused); returns (city, vehicle type)."""
    from decimal import Decimal

    from billing.services import tariffs
    from fleet import services as fleet_services
    from fleet.models import City, VehicleType

    city = City.objects.create(slug=slug, name="Bench", timezone="Europe/Berlin", currency="EUR")
    box = [[13.0, 52.0], [14.0, 52.0], [14.0, 53.0], [13.0, 53.0], [13.0, 52.0]]
    fleet_services.zone_create(city=city, name="Area", kind="operating_area",
                               geometry={"type": "MultiPolygon", "coordinates": [[box]]})
    vtype = VehicleType.objects.create(code=f"{slug}-scooter", name="Scooter", form_factor="scooter_standing",
                                       propulsion_type="electric", max_range_meters=40_000)
    tariffs.tariff_publish(city=city, vehicle_type=vtype, unlock_fee=Decimal("1.00"),
                           brackets=[{"start_minute": 0, "per_minute": "0.25"}], pause_per_minute=Decimal("0.10"))
    return city, vtype


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_wsgi(database: str, port: int, *, workers: int, threads: int,
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """granian serving ``config.wsgi`` as in production (DEBUG off) on the bench's database and cache prefix, on a
    loopback port; returns once ``/healthz`` answers. ``env`` adds or overrides variables."""
    from django.conf import settings

    environ = {**os.environ, "DATABASE_URL": with_database(os.environ["DATABASE_URL"], database),
               "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1", "CACHE_KEY_PREFIX": database,
               "SECRET_KEY": settings.SECRET_KEY, **(env or {})}
    granian = str(Path(sys.executable).parent / "granian")
    cmd = [granian, "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--blocking-threads", str(threads), "--log-level", "warning", "config.wsgi:application"]
    process = subprocess.Popen(cmd, cwd=ROOT, env=environ)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("granian did not come up")


def serve_daphne(database: str, *, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """One Daphne serving ``config.asgi`` (the WebSockets) on the bench's database, channel layer and cache prefix,
    on a free loopback port; returns the process and the port once it accepts connections. ``env`` adds or
    overrides variables."""
    port = free_port()
    environ = {**os.environ, "DATABASE_URL": with_database(os.environ["DATABASE_URL"], database),
               "CHANNEL_LAYER_PREFIX": database, "CACHE_KEY_PREFIX": database, "LOG_LEVEL": "WARNING",
               **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
                                "--access-log", os.devnull, "config.asgi:application"], cwd=ROOT, env=environ)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError("daphne did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a terminal would; killed if it has not exited within 15 s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)
