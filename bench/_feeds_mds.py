"""The MDS half of ``python -m bench feeds`` (``BENCH_FEEDS_PART=mds`` runs it alone): MDS ``/telemetry`` of one
hour of a 10,000-vehicle city, served as in production, in points per second and the server's memory.

A database of its own (``bench_feeds_mds_<pid>``) gets a city with ``BENCH_MDS_VEHICLES`` (10,000) vehicles and two
past hours of telemetry history written straight into the history table (``generate_series``): the first hour
with one reading per vehicle every ``2 * BENCH_MDS_INTERVAL_S`` seconds, the second every ``BENCH_MDS_INTERVAL_S``
(10 s: 3.6 million points), plus ``BENCH_MDS_TRIPS`` (2,000) rides over both hours, so readings are matched to
trips as they are in a real city. granian serves ``config.wsgi`` with one worker on a loopback port (the
Procfile's server); an agency with a token pulls ``/mds/telemetry?telemetry_time=`` of each hour once to warm up,
then measured, reading the streamed body in 1 MiB pieces and counting its points.

Figures: ``mds_telemetry_points_per_s`` (points of the full hour / seconds from the request to the last byte),
``mds_telemetry_peak_rss_mb`` (the largest resident memory of granian's worker, sampled every 20 ms during either
pull), and the same for the half hour (``*_half``): with the body streamed, memory does not grow with the number
of points (``mds_telemetry_rss_growth_mb``, the full hour's peak minus the half hour's, stays near 0).
Target: at least 100,000 points/s, memory flat.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import requests

from bench import common

VEHICLES = int(os.environ.get("BENCH_MDS_VEHICLES", "10000"))
INTERVAL_S = int(os.environ.get("BENCH_MDS_INTERVAL_S", "10"))
TRIPS = int(os.environ.get("BENCH_MDS_TRIPS", "2000"))

# Readings of every vehicle of the city every ``step`` seconds over one hour, spread over the step by vehicle, written
# in time order as the drainers write them (the history's BRIN index on ``at`` then narrows a scan to the hour).
_READINGS_SQL = """
INSERT INTO telemetry_reading (vehicle_id, seq, at, received_at, lat, lon, accuracy_m, heading, speed_kph,
                               battery_pct, locked, odometer_m)
SELECT v.id, %(first_seq)s + s.n,
       %(start)s::timestamptz + make_interval(secs => s.n * %(step)s + v.k %% %(step)s),
       %(start)s::timestamptz + make_interval(secs => s.n * %(step)s + v.k %% %(step)s),
       52.4 + (v.k %% 1000) / 5000.0 + s.n / 100000.0, 13.3 + (v.k / 1000) / 50.0, 4.5, (s.n * 7) %% 360, 14.5,
       90 - s.n / 100, false, 1000 + s.n * 40
  FROM generate_series(0, 3600 / %(step)s - 1) AS s(n),
       (SELECT id, (row_number() OVER (ORDER BY id))::int AS k FROM fleet_vehicle WHERE city_id = %(city)s) v
 ORDER BY s.n, v.k
"""


def setup(hours: list[tuple[datetime, int]]) -> tuple[Any, int]:
    """The city, its vehicles, rides and readings; returns the city and the number of readings per hour."""
    from django.db import connection
    from django.db.models import F

    from accounts.models import User
    from fleet import grid
    from fleet.models import Vehicle
    from rides.models import Ride, RideState
    from telemetry import storage

    city, vtype = common.ride_city("mds")
    Vehicle.objects.bulk_create([
        Vehicle(code=f"M{i:06d}", imei=f"98{i:013d}", vehicle_type=vtype, city=city, status="available",
                battery_pct=90, lat=52.5, lon=13.4, cell=grid.cell_of(52.5, 13.4)) for i in range(VEHICLES)
    ], batch_size=2000)
    rider = User.objects.create_user(email="mds-bench@example.com", password=None)
    vehicles = list(Vehicle.objects.filter(city=city).values_list("id", flat=True))
    first = hours[0][0]
    rides = []
    for i in range(TRIPS):
        start = first + timedelta(seconds=(i * 7200) // TRIPS)
        rides.append(Ride(rider=rider, vehicle_id=vehicles[i % len(vehicles)], vehicle_type=vtype, city=city,
                          tariff={}, currency="EUR", state=RideState.ENDED, started_at=start,
                          ended_at=start + timedelta(minutes=12), start_lat=52.5, start_lon=13.4, end_lat=52.51,
                          end_lon=13.41, distance_m=2000, duration_s=720))
    Ride.objects.bulk_create(rides, batch_size=2000)
    Ride.objects.filter(city=city).update(created_at=F("started_at"))  # created_at is set to "now" on insert
    storage.ensure_partitions({start.date() for start, _ in hours} | {(start + timedelta(hours=1)).date()
                                                                          for start, _ in hours})
    seq = 0
    with connection.cursor() as cursor:
        for start, step in hours:
            cursor.execute(_READINGS_SQL, {"first_seq": seq, "start": start, "step": step, "city": city.id})
            seq += 3600 // step
        cursor.execute("ANALYZE telemetry_reading")
    return city, VEHICLES * 3600 // hours[-1][1]


_COUNTED = b'"telemetry_id"'  # once per point




def _serve(database: str, port: int) -> subprocess.Popen[bytes]:
    """granian with one worker (the Procfile's server) on the bench's database."""
    return common.serve_wsgi(database, port, workers=1, threads=2, env={"MDS_HOUR_GRACE_S": "0"})




class _Rss:
    """Samples, every 20 ms in a thread, the resident memory of granian's processes (main and worker) and the CPU
    time of the PostgreSQL backends serving the bench's database (found by their process title)."""

    def __init__(self, pid: int, database: str = "") -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self.database = database
        self._db_cpu: dict[int, tuple[float, float]] = {}  # backend pid -> (first, last) CPU seconds seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _backends(self) -> None:
        for process in psutil.process_iter(["cmdline"]):
            try:
                if self.database and any(self.database in part for part in process.info["cmdline"] or []):
                    times = process.cpu_times()
                    cpu = times.user + times.system
                    first = self._db_cpu.get(process.pid, (cpu, cpu))[0]
                    self._db_cpu[process.pid] = (first, cpu)
            except psutil.Error:
                continue

    def db_cpu_s(self) -> float:
        return sum(last - first for first, last in self._db_cpu.values())

    def now(self) -> int:
        try:
            return sum(p.memory_info().rss for p in [self.root, *self.root.children(recursive=True)])
        except psutil.Error:
            return 0

    def cpu_s(self) -> float:
        return common.cpu_seconds(self.root.pid, children=True) or 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._backends()
            time.sleep(0.02)

    def __enter__(self) -> _Rss:
        self.peak = self.now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _pull(base: str, token: str, hour: datetime, pid: int, database: str) -> dict[str, float]:
    """One /mds/telemetry pull read to the end: points, seconds, points/s, the server's peak RSS, and the CPU per
    point of granian and of PostgreSQL (which do not depend on how busy the machine is, unlike points/s)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.mds+json;version=2.0"}
    points, size, tail = 0, 0, b""
    with _Rss(pid, database) as rss:
        cpu = rss.cpu_s()
        with common.Timer() as timer, requests.get(f"{base}/mds/telemetry", headers=headers, stream=True,
                                                   params={"telemetry_time": hour.strftime("%Y-%m-%dT%H")},
                                                   timeout=600) as response:
            response.raise_for_status()
            for piece in response.iter_content(1 << 20):
                window = tail + piece
                points += window.count(_COUNTED) - tail.count(_COUNTED)
                tail, size = window[-len(_COUNTED) + 1:], size + len(piece)
        server_cpu = rss.cpu_s() - cpu
    return {"points": points, "mb": round(size / 1e6, 1), "s": round(timer.wall_s, 2),
            "points_per_s": common.rate(points, timer.wall_s), "peak_rss_mb": round(rss.peak / 1e6, 1),
            "server_cpu_us_per_point": round(server_cpu / max(points, 1) * 1e6, 2),
            "db_cpu_us_per_point": round(rss.db_cpu_s() / max(points, 1) * 1e6, 2)}


def measure(*, vehicles: int = VEHICLES, interval_s: int = INTERVAL_S, trips: int = TRIPS) -> dict[str, Any]:
    """Set up the city, serve it, pull the half-density hour then the full one; the figures (module docstring)."""
    from feeds.mds import services as mds_services

    global VEHICLES, TRIPS
    VEHICLES, TRIPS = vehicles, trips
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    half, full = now - timedelta(hours=3), now - timedelta(hours=2)
    figures: dict[str, Any] = {"vehicles": vehicles, "interval_s": interval_s, "trips": trips}
    with common.django_database("feeds_mds") as database:
        with common.Timer() as setup_timer:
            city, _ = setup([(half, interval_s * 2), (full, interval_s)])
        figures["setup_s"] = round(setup_timer.wall_s, 1)
        agency = mds_services.agency_ensure(name="Bench agency", city_slugs=[city.slug])
        token = mds_services.credential_issue(agency=agency)[1]
        port = common.free_port()
        server = _serve(database, port)
        base = f"http://127.0.0.1:{port}"
        try:
            _pull(base, token, now - timedelta(hours=6), server.pid, database)  # warm-up: an empty hour (imports, connection)
            figures["mds_telemetry_baseline_rss_mb"] = round(_Rss(server.pid).now() / 1e6, 1)
            first = _pull(base, token, half, server.pid, database)
            second = _pull(base, token, full, server.pid, database)
        finally:
            common.stop(server)
    figures.update({f"mds_telemetry_{k}_half": v for k, v in first.items()})
    figures.update({f"mds_telemetry_{k}": v for k, v in second.items()})
    figures["mds_telemetry_rss_growth_mb"] = round(second["peak_rss_mb"] - first["peak_rss_mb"], 1)
    figures["host_cpu_ms"] = common.host_cpu_ms()
    return figures

