"""The vehicle and ride admin pages of a busy vehicle: ``python -m bench object_pages``.

A database of its own (``bench.common.django_database``): one city with 20 zones; 500 vehicles reporting every
60 s for two days (1.44M history rows) and one busy vehicle reporting every second for two days (172,800 readings),
with 5,000 rides, 20,000 events, 2,000 commands, 400 tasks and 400 alerts; one of its rides lasts two hours with a
track point every second (7,200) crossing zones. Each page is requested through Django's test client in this
process (middleware, admin, rendering; no HTTP server), 3 times to warm up, then ``ROUNDS`` times; figures are
milliseconds (p50, p95) and the queries one page makes. The map's drawing in the browser is not timed.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from bench import common

ROUNDS = 30
FLEET, FLEET_EVERY_S, BUSY_EVERY_S, DAYS = 500, 60, 1, 2


def _reading(vehicle_id: uuid.UUID, seq: int, at: datetime, s: int, origin: tuple[float, float]) -> tuple[Any, ...]:
    t = s / 3600
    return (vehicle_id, seq, at, at, origin[0] + 0.01 * math.sin(t), origin[1] + 0.01 * math.cos(t), 5.0, 0.0, 12.0,
            max(5, 100 - int(t * 2) % 95), False, s * 3, None, None, None)


def _load_history(vehicle_ids: list[uuid.UUID], busy: uuid.UUID, start: datetime) -> int:
    """Rows in time order, every vehicle's interleaved as a live feed stores them (a vehicle's rows scattered over
    the day's pages), then VACUUM ANALYZE as autovacuum would do to an insert-only table."""
    from django.db import connection, transaction

    from telemetry import storage

    storage.ensure_partitions({(start + timedelta(days=d)).date() for d in range(DAYS + 1)})
    rng = random.Random(1)
    origins = {v: (52.45 + rng.random() * 0.1, 13.3 + rng.random() * 0.2) for v in vehicle_ids}
    fleet = [v for v in vehicle_ids if v != busy]
    rows = 0
    copy_sql = f"COPY {storage.TABLE} ({', '.join(storage.COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
        copy.set_types(storage.COPY_TYPES)
        for s in range(0, DAYS * 86_400, BUSY_EVERY_S):
            at = start + timedelta(seconds=s)
            copy.write_row(_reading(busy, s, at, s, origins[busy]))
            rows += 1
            if s % FLEET_EVERY_S == 0:
                for vehicle_id in fleet:
                    copy.write_row(_reading(vehicle_id, s // FLEET_EVERY_S, at, s, origins[vehicle_id]))
                rows += len(fleet)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {storage.TABLE}")
    return rows


def _load_busy_vehicle(vehicle: Any, rider: Any, staff: Any, now: datetime) -> Any:
    from django.db import connection

    from fleet.models import Command, OpsAlert, OpsTask, VehicleEvent
    from rides.models import Ride, RideTrackPoint

    rides = Ride.objects.bulk_create([
        Ride(rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=vehicle.city, state="ended",
             tariff={}, currency="EUR", started_at=now - timedelta(hours=i), ended_at=now - timedelta(hours=i) +
             timedelta(minutes=10), duration_s=600, fare_total="2.50") for i in range(5_000)], batch_size=1000)
    long_ride = rides[0]
    Ride.objects.filter(pk=long_ride.pk).update(started_at=now - timedelta(hours=2), ended_at=now)
    RideTrackPoint.objects.bulk_create([
        RideTrackPoint(ride=long_ride, at=now - timedelta(seconds=7_200 - s), lat=52.45 + 0.1 * s / 7_200,
                       lon=13.30 + 0.2 * s / 7_200) for s in range(7_200)], batch_size=2000)
    VehicleEvent.objects.bulk_create([
        VehicleEvent(vehicle=vehicle, vehicle_state="available", event_types=["located"], status="available",
                     previous_status="available", timestamp=now - timedelta(minutes=i), actor_kind="ops", actor=staff)
        for i in range(20_000)], batch_size=2000)
    Command.objects.bulk_create([
        Command(vehicle=vehicle, kind="locate", idempotency_key=uuid.uuid4().hex, actor=staff, state="acked",
                expires_at=now, acked_at=now) for _ in range(2_000)], batch_size=1000)
    OpsTask.objects.bulk_create([
        OpsTask(vehicle=vehicle, city=vehicle.city, kind="inspect", state="done", created_at=now - timedelta(hours=i),
                closed_at=now, assignee=staff, closed_by=staff) for i in range(400)])
    OpsAlert.objects.bulk_create([
        OpsAlert(vehicle=vehicle, city=vehicle.city, kind="tamper", opened_at=now - timedelta(hours=i),
                 resolved_at=now, resolved_by=staff) for i in range(400)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return long_ride


def _zones(city: Any) -> None:
    from fleet import services as fleet_services

    for i in range(20):  # squares along the long ride's diagonal and beside it
        lon, lat = 13.30 + 0.01 * i, 52.45 + 0.005 * i + (0.02 if i % 2 else 0)
        ring = [[lon, lat], [lon + 0.008, lat], [lon + 0.008, lat + 0.008], [lon, lat + 0.008], [lon, lat]]
        fleet_services.zone_create(city=city, name=f"Zone {i}", kind="no_parking" if i % 3 else "slow",
                                   geometry={"type": "MultiPolygon", "coordinates": [[ring]]},
                                   rules={"maximum_speed_kph": 15} if i % 3 == 0 else None)


def _time(client: Any, url: str) -> tuple[dict[str, float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return common.percentiles(samples, (50, 95)), len(queries)


def _time_call(call: Any) -> dict[str, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return common.percentiles(samples, (50, 95))


def main() -> dict[str, Any]:
    with common.django_database("object_pages"):
        from django.test import Client
        from django.utils import timezone

        from accounts.models import User
        from fleet import grid
        from fleet.models import Vehicle

        now = timezone.now()
        city, vtype = common.ride_city("pages")
        _zones(city)
        staff = User.objects.create_superuser(email="bench@example.com", password=None)
        rider = User.objects.create_user(email="rider@example.com", password=None)
        vehicles = Vehicle.objects.bulk_create([
            Vehicle(code=f"P{i:06d}", imei=f"{i:015d}", vehicle_type=vtype, city=city, status="available",
                    battery_pct=80, lat=52.5, lon=13.4, cell=grid.cell_of(52.5, 13.4), position_at=now)
            for i in range(FLEET)])
        busy = vehicles[0]
        with common.Timer() as load:
            rows = _load_history([v.id for v in vehicles], busy.id, now - timedelta(days=DAYS))
            ride = _load_busy_vehicle(busy, rider, staff, now)
        ride.refresh_from_db()
        print(f"loaded {rows:,} history rows and the busy vehicle's rows in {load.wall_s:.0f} s")
        client = Client()
        client.force_login(staff)
        figures: dict[str, Any] = {"history_rows": rows, "busy_vehicle_readings": DAYS * 86_400 // BUSY_EVERY_S}
        pages = {f"vehicle_{h}h": f"/admin/fleet/vehicle/{busy.pk}/change/?track={h}" for h in (1, 6, 24)}
        pages["ride_2h_track"] = f"/admin/rides/ride/{ride.pk}/change/"
        pages["vehicle_commands_panel"] = f"/admin/fleet/vehicle/{busy.pk}/commands/"
        for name, url in pages.items():
            ms, queries = _time(client, url)
            figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = ms["p50"], ms["p95"]
            figures[f"{name}_queries"] = queries
            print(f"{name:24} p50 {ms['p50']:7.1f} ms  p95 {ms['p95']:7.1f} ms  {queries} queries")
        figures["worst_p95_ms"] = max(v for k, v in figures.items() if k.endswith("_p95_ms"))
        # What the pages' own panels cost (their reads and their Python), without the admin's form and rendering.
        from console import vehicle_page
        from rides import ride_page

        parts: dict[str, Callable[[], object]] = {
            f"vehicle_panels_{h}h": partial(vehicle_page.vehicle_panels, busy, track=str(h)) for h in (1, 6, 24)}
        parts["ride_map_2h"] = partial(ride_page.ride_map, ride)
        for name, call in parts.items():
            ms = _time_call(call)
            figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = ms["p50"], ms["p95"]
            print(f"{name:24} p50 {ms['p50']:7.1f} ms  p95 {ms['p95']:7.1f} ms  (panel reads and Python only)")
        command = busy.commands.first()
        assert command is not None
        reference = f"/admin/fleet/command/{command.pk}/change/"  # a stock read-only admin page
        ms, queries = _time(client, reference)
        figures["stock_detail_page_p50_ms"] = ms["p50"]
        print(f"{'stock_detail_page':24} p50 {ms['p50']:7.1f} ms  p95 {ms['p95']:7.1f} ms  {queries} queries "
              "(a command's own page, for comparison)")
        return figures
