"""``python -m bench rides``: 50 concurrent riders run whole journeys against the REST API served as in production.

A database of its own (``bench_rides_<pid>``) gets a city with an operating area, a tariff, one vehicle per
rider and riders with a funded wallet. granian serves ``config.wsgi`` with 2 workers on a loopback port (the
Procfile's command). A journey: nearby search, start (with an Idempotency-Key), the vehicle acknowledges the
unlock, 3 pauses (lock ack, resume, unlock ack), end, lock ack. The API pushes each command's ``command_send``
task to the Redis broker as in production; ``BENCH_RIDES_ACK_PROCESSES`` (3) processes of the bench play the
Celery worker and the vehicle: ``fleet.services.command_deliver`` then ``command_ack`` (the path telemetry takes),
so the ride moves on in the after-commit hook, and the final charge happens there too. The queued tasks go to a
queue of the bench's own (``<database>:commands``), deleted with its other Redis keys afterwards.

Two phases, both reported:

1. **Riders** (the target's figures: ``journeys_per_s``, ``start_p99_ms``, ``end_p99_ms``): ``BENCH_RIDES_RIDERS``
   (50) riders at once, each a thread with its own HTTP session, each waiting a think time drawn uniformly from
   ``BENCH_RIDES_THINK_MIN_S``..``BENCH_RIDES_THINK_MAX_S`` (1..5 s) before every request, as a person with a phone
   does (look at the map, scan the QR code, ride, tap pause...). Riders start at random moments within the first
   think time. Real rides last minutes, so this is a pessimistic (busier than real) model. The offered load that
   results is reported as ``offered_rps`` (HTTP requests per second).
2. **Saturation** (``saturation_*``): the same riders with no think time at all (closed loop: each fires its next
   request the moment the previous one answers) for ``BENCH_RIDES_SATURATION_JOURNEYS`` (1) journeys each. This is
   the most the stack does on this machine (``saturation_journeys_per_s``); its latencies are queueing time
   (latency = concurrency / throughput), not what a rider sees at the offered load above.

Environment: ``BENCH_RIDES_RIDERS`` (50), ``BENCH_RIDES_JOURNEYS`` per rider in phase 1 (4: 200 starts, so the
p99 is not one outlier), ``BENCH_RIDES_THINK_MIN_S`` / ``BENCH_RIDES_THINK_MAX_S`` (1 / 5),
``BENCH_RIDES_SATURATION_JOURNEYS`` (1; 0 skips phase 2), ``BENCH_RIDES_WORKERS`` granian workers and
``BENCH_RIDES_BLOCKING_THREADS`` per worker (``WEB_CONCURRENCY`` / ``WEB_THREADS``, else 2 and 4, as the Procfile).

Every response's ``Server-Timing`` (app time, app CPU) is collected: for the slowest starts and ends the output
shows client / app / app-CPU / garbage-collection milliseconds, so queueing in front of the app, waiting inside it (database, GIL) and
the app's own CPU can be told apart; ``start_app_p50_ms`` / ``start_app_p99_ms`` (and ``end_``) are the app side.
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import random
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Executor, ProcessPoolExecutor, wait
from decimal import Decimal
from typing import Any

import requests

from bench import common

LAT, LON = 52.52, 13.405
# granian's default allows 256 Python threads per worker, each with its own PostgreSQL connection: 50 riders then
# exhaust max_connections. The bench uses what production runs (Procfile, Dockerfile: WEB_THREADS, default 4).
BLOCKING_THREADS = int(os.environ.get("BENCH_RIDES_BLOCKING_THREADS", os.environ.get("WEB_THREADS", "4")))
WORKERS = int(os.environ.get("BENCH_RIDES_WORKERS", os.environ.get("WEB_CONCURRENCY", "2")))
# The vehicles' answers (and the final charge they trigger) run in a few processes of their own, as telemetry
# consumers and Celery workers do: in this process they would queue behind 50 rider threads for one GIL.
ACK_PROCESSES = int(os.environ.get("BENCH_RIDES_ACK_PROCESSES", "3"))
ACKS: list[Executor] = []


def _ack_worker_init(database: str) -> None:
    """A fresh interpreter (spawn): Django on the bench database, acting as the vehicle and the worker."""
    common.setup_django()
    common.point_django_at(database, database)
    from django.conf import settings

    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"


def _ack_pool(database: str) -> Executor:
    pool = ProcessPoolExecutor(max_workers=ACK_PROCESSES, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ack_worker_init, initargs=(database,))
    wait([pool.submit(time.sleep, 0.5) for _ in range(ACK_PROCESSES)])  # start them all before the riders
    return pool


def _setup(n: int) -> list[tuple[str, str, float, float]]:
    """City, zone, tariff, vehicles and funded riders; returns (access token, vehicle code, lat, lon) per rider."""
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import User
    from billing.services import methods, wallet
    from fleet import grid
    from fleet import services as fleet_services
    from fleet.models import Vehicle

    city, vtype = common.ride_city("bench")
    riders = []
    for i in range(n):
        lat, lon = LAT + (i % 10) * 0.002, LON + (i // 10) * 0.002
        vehicle = Vehicle.objects.create(code=f"B{i:05d}", imei=f"99{i:013d}", vehicle_type=vtype, city=city,
                                         battery_pct=90, lat=lat, lon=lon, cell=grid.cell_of(lat, lon))
        fleet_services.vehicle_deploy(vehicle_id=vehicle.id, location=fleet_services.Location(lat, lon))
        user = User.objects.create_user(email=f"bench{i}@example.com", password=None,
                                        date_of_birth=datetime.date(1990, 1, 1))
        card = methods.payment_method_add(user=user, token="tok_visa")
        wallet.wallet_top_up(user=user, amount=Decimal("500.00"), currency="EUR", payment_method_id=card.pk)
        riders.append((str(RefreshToken.for_user(user).access_token), vehicle.code, lat, lon))
    return riders




def _serve(database: str, port: int) -> subprocess.Popen[bytes]:
    # its cache keys and its Celery queue are the bench's own, deleted afterwards
    return common.serve_wsgi(database, port, workers=WORKERS, threads=BLOCKING_THREADS, env={
        "CELERY_DEFAULT_QUEUE": f"{database}:commands", "CELERY_BROKER_URL": os.environ["REDIS_URL"]})


_SERVER_PID: list[int] = []  # granian's main process, for its CPU time


class JourneyFailed(Exception):
    """A request got an unexpected status (recorded in Stats.errors)."""


WARM_RIDERS = 8  # riders of their own for the warm-up journeys (their rides are not measured)


def _warm_up(base: str, riders: list[tuple[str, str, float, float]]) -> None:
    """Let both workers and the ack processes import, connect and fill their caches before timing.

    Cold start is not what is measured: a process's first ride start costs ~120 ms of CPU (imports, the city's
    compiled geofence, serializers), 4-5 times a warm one, and in the measured phase those two first starts were
    the slowest of the run. So ``WARM_RIDERS`` whole journeys run at once, each on a connection of its own (granian
    spreads connections over its workers), before the phases start.
    """
    with requests.Session() as http:
        http.headers["Authorization"] = f"Bearer {riders[0][0]}"
        for _ in range(20):
            http.get(f"{base}/api/v1/vehicles/nearby?lat={LAT}&lon={LON}&radius=300", timeout=30)
    stats = Stats()
    threads = [threading.Thread(target=Rider(base, *r, stats).journey) for r in riders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if stats.errors:
        raise RuntimeError(f"warm-up journeys failed: {stats.errors[:3]}")




class Rider:
    def __init__(self, base: str, token: str, code: str, lat: float, lon: float, stats: Stats,
                 think: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> None:
        self.base, self.code, self.lat, self.lon, self.stats = base, code, lat, lon, stats
        self.think, self.random = think, random.Random(seed)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def pause(self) -> None:
        """The person looks at the phone, scans, rides: a think time before the next request."""
        if self.think[1] > 0:
            time.sleep(self.random.uniform(*self.think))

    def call(self, name: str, method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        self.pause()
        start = time.perf_counter()
        response = self.http.request(method, self.base + path, timeout=30, **kwargs)
        ms = (time.perf_counter() - start) * 1000
        self.stats.add(name, ms, response.status_code == expect)
        self.stats.server(name, ms, response.headers.get("Server-Timing", ""))
        with self.stats.lock:
            self.stats.requests += 1
        if response.status_code != expect:
            self.stats.fail(f"{name}: {response.status_code} {response.text[:200]}")
            raise JourneyFailed(name)
        return dict(response.json())

    def ack(self, ride_id: str, field: str) -> None:
        start = time.perf_counter()
        ACKS[0].submit(_vehicle_answers, ride_id, field).result()
        self.stats.add("vehicle_ack", (time.perf_counter() - start) * 1000, True)

    def journey(self) -> None:
        self.call("nearby", "GET", f"/api/v1/vehicles/nearby?lat={self.lat}&lon={self.lon}&radius=300", 200)
        ride = self.call("start", "POST", "/api/v1/rides/start", 201, json={"code": self.code},
                         headers={"Idempotency-Key": uuid.uuid4().hex})
        ride_id = ride["id"]
        self.ack(ride_id, "unlock_command_id")
        for _ in range(3):
            self.call("pause", "POST", f"/api/v1/rides/{ride_id}/pause", 200)
            self.ack(ride_id, "lock_command_id")
            self.call("resume", "POST", f"/api/v1/rides/{ride_id}/resume", 200)
            self.ack(ride_id, "unlock_command_id")
        self.call("end", "POST", f"/api/v1/rides/{ride_id}/end", 202)
        self.ack(ride_id, "lock_command_id")
        if ACKS[0].submit(_ride_state, ride_id).result() != "ended":
            self.stats.fail(f"ride {ride_id} not ended after the lock ack")


def _vehicle_answers(ride_id: str, field: str) -> None:
    """The vehicle acknowledges the ride's current unlock/lock command (what telemetry does on the unit's answer)."""
    from fleet import services as fleet_services
    from rides.models import Ride

    command_id = Ride.objects.values_list(field, flat=True).get(id=ride_id)
    assert command_id is not None
    fleet_services.command_deliver(command_id=command_id)  # what the Celery worker's command_send does
    fleet_services.command_ack(command_id=command_id, ok=True)


def _ride_state(ride_id: str) -> str:
    from rides.models import Ride

    return str(Ride.objects.values_list("state", flat=True).get(id=ride_id))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.timings: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
        self.errors: list[str] = []
        self.journeys = 0
        self.requests = 0
        self.server_cpu_start: float | None = None
        self.server_cpu_s: float | None = None

    def add(self, name: str, ms: float, ok: bool) -> None:
        with self.lock:
            self.samples[name].append(ms)

    def server(self, name: str, ms: float, timing: str) -> None:
        """The app's own time and CPU for this request (``Server-Timing``): what is left is queueing in front."""
        parts = dict(p.strip().split(";dur=") for p in timing.split(",") if ";dur=" in p)
        with self.lock:
            self.timings[name].append((ms, float(parts.get("app", "nan")), float(parts.get("cpu", "nan")),
                                       float(parts.get("gc", "nan"))))

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def _drive(rider: Rider, journeys: int, barrier: threading.Barrier) -> None:
    barrier.wait()
    if rider.think[1] > 0:
        time.sleep(rider.random.uniform(0, rider.think[1]))  # people do not all open the app at the same instant
    for _ in range(journeys):
        try:
            rider.journey()
            with rider.stats.lock:
                rider.stats.journeys += 1
        except JourneyFailed:
            continue  # already counted
        except Exception as exc:  # noqa: BLE001 - counted as an error, the rider goes on
            rider.stats.fail(repr(exc)[:200])


def _figures(stats: Stats, wall_s: float, prefix: str = "") -> dict[str, Any]:
    figures: dict[str, Any] = {f"{prefix}journeys": stats.journeys, f"{prefix}errors": len(stats.errors),
                               f"{prefix}journeys_per_s": common.rate(stats.journeys, wall_s),
                               f"{prefix}offered_rps": common.rate(stats.requests, wall_s),
                               f"{prefix}wall_s": round(wall_s, 2)}
    if stats.server_cpu_s is not None and stats.requests:
        # granian's CPU per HTTP request (both workers): what the API costs, however busy the machine is
        figures[f"{prefix}server_cpu_ms_per_request"] = round(stats.server_cpu_s * 1000 / stats.requests, 1)
    for name, samples in sorted(stats.samples.items()):
        p = common.percentiles(samples)
        figures[f"{prefix}{name}_p50_ms"], figures[f"{prefix}{name}_p99_ms"] = p["p50"], p["p99"]
    for name in ("start", "end"):
        timings = stats.timings.get(name, [])
        if timings:  # where the time of the slowest goes: in the app (cpu, waiting) or in front of it (queueing)
            p = common.percentiles([app for _, app, _, _ in timings])
            figures[f"{prefix}{name}_app_p50_ms"], figures[f"{prefix}{name}_app_p99_ms"] = p["p50"], p["p99"]
            slowest = sorted(timings, reverse=True)[:5]
            print(f"{prefix}{name} slowest (client / app / app cpu / gc ms):",
                  ", ".join(f"{c:.0f}/{a:.0f}/{u:.0f}/{g:.0f}" for c, a, u, g in slowest))
    return figures


def _phase(base: str, riders: list[tuple[str, str, float, float]], journeys: int,
           think: tuple[float, float]) -> tuple[Stats, float]:
    stats = Stats()
    stats.server_cpu_start = common.cpu_seconds(_SERVER_PID[0], children=True) if _SERVER_PID else None
    barrier = threading.Barrier(len(riders))
    threads = [threading.Thread(target=_drive, args=(Rider(base, *r, stats, think=think, seed=i), journeys, barrier))
               for i, r in enumerate(riders)]
    with common.Timer() as timer:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    end_cpu = common.cpu_seconds(_SERVER_PID[0], children=True) if _SERVER_PID else None
    if stats.server_cpu_start is not None and end_cpu is not None:
        stats.server_cpu_s = end_cpu - stats.server_cpu_start
    for message in stats.errors[:5]:
        print("error:", message)
    return stats, timer.wall_s


def run(n: int, journeys: int, think: tuple[float, float], saturation_journeys: int) -> dict[str, Any]:
    from django.conf import settings

    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"  # the bench is the worker and the vehicle: it acks itself
    figures: dict[str, Any] = {"riders": n, "think_min_s": think[0], "think_max_s": think[1]}
    with common.django_database("rides") as database:
        riders = _setup(n + WARM_RIDERS)
        riders, warm = riders[:n], riders[n:]
        port = common.free_port()
        server = _serve(database, port)
        _SERVER_PID[:] = [server.pid]
        base = f"http://127.0.0.1:{port}"
        try:
            ACKS[:] = [_ack_pool(database)]
            _warm_up(base, warm)
            stats, wall_s = _phase(base, riders, journeys, think)
            figures.update(_figures(stats, wall_s))
            errors = len(stats.errors)
            if saturation_journeys > 0:
                stats, wall_s = _phase(base, riders, saturation_journeys, (0.0, 0.0))
                figures.update(_figures(stats, wall_s, "saturation_"))
                errors += len(stats.errors)
            figures["errors"] = errors
        finally:
            for pool in ACKS:
                pool.shutdown()
            common.stop(server)
        return figures


def main() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_RIDES_RIDERS", "50"))
    journeys = int(os.environ.get("BENCH_RIDES_JOURNEYS", "4"))
    think = (float(os.environ.get("BENCH_RIDES_THINK_MIN_S", "1")), float(os.environ.get("BENCH_RIDES_THINK_MAX_S", "5")))
    saturation = int(os.environ.get("BENCH_RIDES_SATURATION_JOURNEYS", "1"))
    figures = run(n, journeys, think, saturation)
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    return figures
