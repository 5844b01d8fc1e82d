"""``python -m bench feeds``: the public feeds served as in production, for a 10k-vehicle city.

A database of its own (``bench_feeds_<pid>``) gets one city with an operating area, two parking zones (virtual
stations), three vehicle types with tariffs, ``BENCH_FEEDS_VEHICLES`` (10,000) vehicles in a realistic mix of
states (80 % available, 8 % on a trip, 2 % reserved, 5 % low battery, 5 % in the workshop) and a trip history
(``BENCH_FEEDS_TRIPS`` trip_start events per vehicle, 3: what the rotating vehicle ids are derived from), and a GBFS
system. granian serves ``config.wsgi`` with 2 workers (the Procfile's command; ``BENCH_FEEDS_WORKERS``) on a loopback
port, with the bench's own cache prefix.

Measured with ``BENCH_FEEDS_CONNECTIONS`` (16) keep-alive connections from wrk (``apt-get install wrk``; without it,
Python client threads, which saturate before the server does), closed loop (each connection sends its next request
when the answer is in: the most the server does, latencies include its queue):

- ``healthz``: ``GET /healthz`` for ``BENCH_FEEDS_SECONDS`` (20), the same-run baseline of the stack and the machine
  (no database, no cache);
- GBFS (``gbfs()``): the cold render of ``vehicle_status.json`` (one request on an empty cache: the query, the JSON
  and its gzip); then ``GET /gbfs/v3/<system>/vehicle_status.json`` with ``Accept-Encoding: gzip`` (what trip
  planners send) **from the cache**: right after a re-render, for the ttl less 3 s (the ``gbfs_vehicle_status_*``
  figures); then **with re-renders**: over two ttls (``gbfs_vehicle_status_renders_*``).

Then the MDS part (``bench/_feeds_mds.py``): ``/mds/telemetry`` of one hour of a 10k-vehicle city, in a database
and server of its own; its figures start with ``mds_``. ``BENCH_FEEDS_PART`` (``all``) runs only ``gbfs`` or ``mds``.
"""

from __future__ import annotations

import gzip
import http.client
import os
import random
import re
import shutil
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench import _feeds_mds, common

SYSTEM_ID = "bench_city"
VEHICLES = int(os.environ.get("BENCH_FEEDS_VEHICLES", "10000"))
TRIPS = int(os.environ.get("BENCH_FEEDS_TRIPS", "3"))
SECONDS = int(os.environ.get("BENCH_FEEDS_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_FEEDS_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_FEEDS_WORKERS", os.environ.get("WEB_CONCURRENCY", "2")))
THREADS = int(os.environ.get("BENCH_FEEDS_THREADS", os.environ.get("WEB_THREADS", "4")))
MIN_LAT, MAX_LAT, MIN_LON, MAX_LON = 52.38, 52.65, 13.10, 13.70
STATUSES = [("available", 0.80), ("on_trip", 0.08), ("reserved", 0.02), ("low_battery", 0.05), ("in_workshop", 0.05)]


def _setup(n: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from billing.services import tariffs
    from feeds.models import GbfsSystem
    from fleet import grid
    from fleet import services as fleet_services
    from fleet.models import VehicleType

    city, scooter = common.ride_city("bench")
    types = [scooter] + [
        VehicleType.objects.create(code=f"bench-{form}", name=form, form_factor=form, propulsion_type=propulsion,
                                   max_range_meters=60_000)
        for form, propulsion in [("bicycle", "electric_assist"), ("moped", "electric")]
    ]
    for vehicle_type in types[1:]:
        tariffs.tariff_publish(city=city, vehicle_type=vehicle_type, unlock_fee=Decimal("1.00"), brackets=[
            {"start_minute": 0, "per_minute": "0.20"}])
    for name, kind, lon, lat in [("Hauptbahnhof", "parking_mandatory", 13.3685, 52.5245),
                                 ("Alexanderplatz", "parking_preferred", 13.41, 52.52)]:
        ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
        fleet_services.zone_create(city=city, name=name, kind=kind, priority=1,
                                   geometry={"type": "MultiPolygon", "coordinates": [[ring]]})
    GbfsSystem.objects.create(system_id=SYSTEM_ID, city=city, name="Bench", feed_contact_email="gbfs@example.com",
                              rental_uri="https://example.com/rent?vehicle={vehicle_id}")
    rng = random.Random(42)
    names, weights = zip(*STATUSES, strict=True)
    vehicles, events = [], []
    now, at = time.time(), timezone.now()
    for i in range(n):
        lat, lon = rng.uniform(MIN_LAT, MAX_LAT), rng.uniform(MIN_LON, MAX_LON)
        status = rng.choices(names, weights)[0]
        vid, trip = uuid.uuid4(), uuid.uuid4() if status in ("on_trip", "reserved") else None
        battery = rng.randint(5, 100)
        vehicles.append((vid, f"B{i:07d}", f"{i:015d}", rng.choice(types).id, city.id, status, "", trip, battery,
                         battery * 400, lat, lon, grid.cell_of(lat, lon), at, True, 0, "{}", "", at, at))
        for k in range(TRIPS):
            ts = at - timedelta(hours=TRIPS - k)
            events.append((uuid.uuid4(), vid, "on_trip", "{trip_start}", "on_trip", "available", ts, ts, True,
                           uuid.uuid4(), "rider"))
    columns = ("id", "code", "imei", "vehicle_type_id", "city_id", "status", "status_before_loss", "trip_id",
               "battery_pct", "range_meters", "lat", "lon", "cell", "position_at", "locked", "odometer_meters",
               "flags", "secret_hash", "created_at", "updated_at")
    event_columns = ("id", "vehicle_id", "vehicle_state", "event_types", "status", "previous_status", "timestamp",
                     "recorded_at", "applied", "trip_id", "actor_kind")
    with connection.cursor() as cursor:
        for table, cols, rows in (("fleet_vehicle", columns, vehicles), ("fleet_vehicleevent", event_columns, events)):
            with cursor.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cursor.execute("ANALYZE fleet_vehicle")
        cursor.execute("ANALYZE fleet_vehicleevent")
    print(f"feeds: {n} vehicles and {len(events)} trip events loaded in {time.time() - now:.1f} s", flush=True)




def _serve(database: str, port: int) -> subprocess.Popen[bytes]:
    return common.serve_wsgi(database, port, workers=WORKERS, threads=THREADS)




def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return round(float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit], 3)


def load(url: str, *, seconds: int = SECONDS, connections: int = CONNECTIONS,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    """req/s, p50/p99 (ms) and non-2xx/3xx answers of ``GET url`` under ``connections`` keep-alive connections."""
    headers = headers or {}
    wrk = shutil.which("wrk")
    if wrk is None:
        return _python_load(url, seconds=seconds, connections=connections, headers=headers)
    cmd = [wrk, "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if set(latency) != {"50", "99"}:
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": round(float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), 1),  # type: ignore[union-attr]
            "p50_ms": _ms(latency["50"]), "p99_ms": _ms(latency["99"]),
            "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0),
            "generator": "wrk"}


def _python_load(url: str, *, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, Any]:
    host, _, path = url.removeprefix("http://").partition("/")
    address, port = host.split(":")
    samples: list[float] = []
    errors = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def work() -> None:
        conn = http.client.HTTPConnection(address, int(port), timeout=30)
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("GET", "/" + path, headers=headers)
            response = conn.getresponse()
            response.read()
            with lock:
                samples.append((time.perf_counter() - started) * 1000)
                errors[0] += response.status >= 400
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = common.percentiles(samples)
    return {"rps": common.rate(len(samples), seconds), "p50_ms": figures["p50"], "p99_ms": figures["p99"],
            "errors": errors[0], "generator": "python threads"}


def _get(base_url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, float, int]:
    """(status, body, milliseconds, Cache-Control max-age) of one GET on a connection of its own."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    max_age = int((response.getheader("Cache-Control") or "max-age=0").rpartition("max-age=")[2])
    conn.close()
    return response.status, body, elapsed, max_age


def _print(label: str, figures: dict[str, Any], seconds: int) -> None:
    print(f"feeds: {label}: {figures['rps']} req/s, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms "
          f"({figures['errors']} errors, {CONNECTIONS} connections, {seconds} s, {figures['generator']})", flush=True)


def gbfs(base_url: str, system_id: str = SYSTEM_ID) -> dict[str, Any]:
    """GBFS figures: the cold render of vehicle_status and its size; req/s and p50/p99 (gzip) from the cache, within
    one ttl; the same over two ttls, re-renders included."""
    path, gz = f"/gbfs/v3/{system_id}/vehicle_status.json", {"Accept-Encoding": "gzip"}
    status, body, cold_ms, max_age = _get(base_url, path, gz)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    raw = gzip.decompress(body)
    vehicles = raw.count(b'"vehicle_id"')
    print(f"feeds: GBFS vehicle_status cold render {cold_ms:.0f} ms, {vehicles} vehicles, {len(raw)} bytes "
          f"({len(body)} gzip), ttl {max_age} s", flush=True)
    # From the cache: wait until the copy is due, let one request render it again, then measure inside its ttl.
    time.sleep(max_age + 1.1)
    _status, _body, render_ms, max_age = _get(base_url, path, gz)
    cached_s = max(3, max_age - 3)
    cached = load(base_url + path, seconds=cached_s, headers=gz)
    _print("GBFS vehicle_status from the cache", cached, cached_s)
    from feeds.gbfs import selectors

    renders_s = max(SECONDS, 2 * selectors.TTL["vehicle_status"] + 1)
    renders = load(base_url + path, seconds=renders_s, headers=gz)
    _print("GBFS vehicle_status with re-renders", renders, renders_s)
    return {"gbfs_vehicle_status_rps": cached["rps"], "gbfs_vehicle_status_p50_ms": cached["p50_ms"],
            "gbfs_vehicle_status_p99_ms": cached["p99_ms"], "gbfs_vehicle_status_errors": cached["errors"],
            "gbfs_vehicle_status_renders_rps": renders["rps"], "gbfs_vehicle_status_renders_p50_ms": renders["p50_ms"],
            "gbfs_vehicle_status_renders_p99_ms": renders["p99_ms"],
            "gbfs_vehicle_status_renders_errors": renders["errors"],
            "gbfs_vehicle_status_cold_ms": round(cold_ms, 1), "gbfs_vehicle_status_render_ms": round(render_ms, 1),
            "gbfs_vehicle_status_vehicles": vehicles, "gbfs_vehicle_status_bytes": len(raw),
            "gbfs_vehicle_status_gzip_bytes": len(body)}


PART = os.environ.get("BENCH_FEEDS_PART", "all")


def main() -> dict[str, Any]:
    if PART not in ("all", "gbfs", "mds"):
        raise SystemExit(f"BENCH_FEEDS_PART={PART!r}: all, gbfs or mds")
    figures: dict[str, Any] = main_gbfs() if PART in ("all", "gbfs") else {}
    if PART in ("all", "mds"):
        mds = _feeds_mds.measure()
        for key, value in mds.items():
            print(f"{key:>44}: {value}")
        figures |= {key if key.startswith("mds_") else f"mds_{key}": value
                    for key, value in mds.items() if key != "host_cpu_ms"}
        figures["host_cpu_ms"] = mds["host_cpu_ms"]
    return figures


def main_gbfs() -> dict[str, Any]:
    with common.django_database("feeds") as database:
        _setup(VEHICLES)
        port = common.free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = _serve(database, port)
        try:
            baseline = load(base_url + "/healthz")
            _print("baseline /healthz", baseline, SECONDS)
            figures: dict[str, Any] = {"feeds_vehicles": VEHICLES, "feeds_workers": WORKERS,
                                       "feeds_connections": CONNECTIONS, "feeds_seconds": SECONDS,
                                       "feeds_load_generator": baseline["generator"],
                                       "healthz_rps": baseline["rps"], "healthz_p99_ms": baseline["p99_ms"]}
            figures |= gbfs(base_url)
            figures["host_cpu_ms"] = common.host_cpu_ms()
        finally:
            common.stop(server)
    return figures
