"""Polling a ride: ``python -m bench ride_status``: the light status and its 304 against the full detail.

A database of its own (``bench.common.django_database``): one city, ``BENCH_RIDE_STATUS_OTHER_RIDES`` (100) ended
rides of a busy day with 1,200 track points each, and the polled ride: two hours at one fix a second
(``BENCH_RIDE_STATUS_POINTS``, 7,200 points), now ``locking`` (its end's lock not answered yet: the moment apps
poll). Requests go through Django's test client in this process with a real bearer token (middleware,
authentication, view, rendering; no HTTP server, so no network or queueing in the figures):

- ``full``: what ``GET /rides/<id>`` answered before the track left it: the detail and the simplified track
  (``GET /rides/<id>`` + ``GET /rides/<id>/track``, the same queries and work);
- ``status``: ``GET /rides/<id>`` now (200), and ``status_304`` with the ETag of the previous answer;
- ``track`` / ``track_304``, ``current`` / ``current_304``: the track's URL and the launch call ``GET /me/current``.

The variants are interleaved, round by round (``BENCH_RIDE_STATUS_ROUNDS``, 200, after 5 warm-up rounds), so the
machine's other work weighs on all alike; ``full_over_status_304`` and ``full_over_status`` are ratios of p50s
measured in the same run, ``full_over_status_304_cpu`` the ratio of this process's CPU time per answer (the
database's own CPU is not in it), which depends less on what else runs on the machine. Also reported: queries and
bytes per answer.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bench import common

ROUNDS = int(os.environ.get("BENCH_RIDE_STATUS_ROUNDS", "200"))
POINTS = int(os.environ.get("BENCH_RIDE_STATUS_POINTS", "7200"))
OTHER_RIDES = int(os.environ.get("BENCH_RIDE_STATUS_OTHER_RIDES", "100"))
OTHER_POINTS = 1_200
WARM_UP = 5


def _ride(rider: Any, vehicle: Any, now: datetime, *, hours: float, state: str, **fields: Any) -> Any:
    from rides.models import Ride

    return Ride(rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=vehicle.city, state=state,
                tariff={"currency": "EUR"}, currency="EUR", started_at=now - timedelta(hours=hours), **fields)


def _track(ride: Any, start: datetime, points: int) -> list[Any]:
    from rides.models import RideTrackPoint

    return [RideTrackPoint(ride=ride, at=start + timedelta(seconds=s), lat=52.45 + 0.1 * s / points,
                           lon=13.30 + 0.2 * s / points + 0.0003 * (s % 7)) for s in range(points)]


def _seed(now: datetime) -> tuple[Any, Any]:
    """The polled ride (``locking``, its lock queued) and its rider; a busy day of other rides around it."""
    from django.db import connection

    from accounts.models import User
    from fleet import grid
    from fleet.models import Command, Vehicle
    from rides.models import RideTrackPoint

    city, vtype = common.ride_city("status")
    rider = User.objects.create_user(email="rider@example.com", password=None)
    vehicles = Vehicle.objects.bulk_create([
        Vehicle(code=f"S{i:06d}", imei=f"{i:015d}", vehicle_type=vtype, city=city, status="available", battery_pct=80,
                lat=52.5, lon=13.4, cell=grid.cell_of(52.5, 13.4), position_at=now) for i in range(OTHER_RIDES + 1)])
    vehicle = vehicles[0]
    unlock, lock = Command.objects.bulk_create([
        Command(vehicle=vehicle, kind="unlock", idempotency_key=f"bench:{uuid.uuid4()}", state="acked",
                expires_at=now, acked_at=now - timedelta(hours=2)),
        Command(vehicle=vehicle, kind="lock", idempotency_key=f"bench:{uuid.uuid4()}", state="sent",
                expires_at=now + timedelta(minutes=1))])
    from rides.models import Ride

    ride = Ride.objects.bulk_create([_ride(rider, vehicle, now, hours=2, state="locking", end_requested_at=now,
                                           unlock_command_id=unlock.id, lock_command_id=lock.id)])[0]
    others = Ride.objects.bulk_create([
        _ride(User.objects.create_user(email=f"r{i}@example.com", password=None), v, now, hours=1, state="ended",
              ended_at=now - timedelta(minutes=40), duration_s=1200, fare_total="5.00")
        for i, v in enumerate(vehicles[1:])])
    RideTrackPoint.objects.bulk_create(_track(ride, now - timedelta(hours=2), POINTS), batch_size=5000)
    for other in others:
        RideTrackPoint.objects.bulk_create(_track(other, now - timedelta(hours=1), OTHER_POINTS), batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return ride, rider


def _measure(calls: dict[str, Callable[[], tuple[int, int, int]]]) -> dict[str, Any]:
    """Time the calls round by round; each returns (status, bytes, queries) and must answer the same every time."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    shapes: dict[str, tuple[int, int, int]] = {}
    for round_ in range(WARM_UP + ROUNDS):
        for name, call in calls.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            shape = call()
            elapsed, elapsed_cpu = (time.perf_counter() - started) * 1000, (time.process_time() - started_cpu) * 1000
            if round_ >= WARM_UP:
                samples[name].append(elapsed)
                cpu[name].append(elapsed_cpu)
            assert shapes.setdefault(name, shape)[0] == shape[0], (name, shape, shapes[name])
    figures: dict[str, Any] = {}
    for name, ms in samples.items():
        p = common.percentiles(ms, (50, 95))
        figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = round(p["p50"], 2), round(p["p95"], 2)
        figures[f"{name}_cpu_p50_ms"] = round(common.percentiles(cpu[name], (50,))["p50"], 2)
        status, size, queries = shapes[name]
        figures[f"{name}_status"], figures[f"{name}_bytes"], figures[f"{name}_queries"] = status, size, queries
    return figures


def main() -> dict[str, Any]:
    with common.django_database("ride_status"):
        from django.db import connection
        from django.test import Client
        from django.utils import timezone
        from rest_framework_simplejwt.tokens import RefreshToken

        with common.Timer() as load:
            ride, rider = _seed(timezone.now())
        print(f"seeded the polled ride ({POINTS:,} points) and {OTHER_RIDES} other rides in {load.wall_s:.0f} s")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(rider).access_token}")
        detail, track, current = f"/api/v1/rides/{ride.id}", f"/api/v1/rides/{ride.id}/track", "/api/v1/me/current"
        etags = {url: client.get(url)["ETag"] for url in (detail, track, current)}
        connection.force_debug_cursor = True  # count queries with DEBUG off

        def get(*urls: str, conditional: bool = False) -> Callable[[], tuple[int, int, int]]:
            def call() -> tuple[int, int, int]:
                status, size, queries = 0, 0, 0
                for u in urls:  # the test client resets connection.queries as each request starts
                    answer = client.get(u, headers={"If-None-Match": etags[u]} if conditional else {})
                    assert answer.status_code in (200, 304), (u, answer.status_code)
                    status, size, queries = answer.status_code, size + len(answer.content), queries + len(connection.queries)
                return status, size, queries
            return call

        figures = _measure({
            "full": get(detail, track), "status": get(detail), "status_304": get(detail, conditional=True),
            "track": get(track), "track_304": get(track, conditional=True),
            "current": get(current), "current_304": get(current, conditional=True),
        })
        connection.force_debug_cursor = False
        figures["full_over_status"] = round(figures["full_p50_ms"] / figures["status_p50_ms"], 1)
        figures["full_over_status_304"] = round(figures["full_p50_ms"] / figures["status_304_p50_ms"], 1)
        figures["full_over_status_304_cpu"] = round(figures["full_cpu_p50_ms"] / figures["status_304_cpu_p50_ms"], 1)
        figures.update(track_points=POINTS, rounds=ROUNDS)
        for name in ("full", "status", "status_304", "track", "track_304", "current", "current_304"):
            print(f"{name:12} {figures[f'{name}_status']}  p50 {figures[f'{name}_p50_ms']:7.2f} ms  "
                  f"p95 {figures[f'{name}_p95_ms']:7.2f} ms  CPU p50 {figures[f'{name}_cpu_p50_ms']:6.2f} ms  "
                  f"{figures[f'{name}_bytes']:7,} bytes  "
                  f"{figures[f'{name}_queries']} queries")
        print(f"full detail / light status: {figures['full_over_status']}x at p50; "
              f"/ its 304: {figures['full_over_status_304']}x (CPU of this process: "
              f"{figures['full_over_status_304_cpu']}x)")
        return figures
