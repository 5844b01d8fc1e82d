"""The admin's compliance page at city scale: 100k vehicles and the 200 zones of the geofence benchmark's city.

``python -m bench compliance``: a throw-away database (``bench.common.django_database``) with one city, its 200
zones saved as ``Zone`` rows (every tenth no-parking zone gets a vehicle cap), 100k vehicles loaded with COPY over a
box a little larger than the operating area (about 80 % parked, some idle for weeks). Then
``fleet.selectors.compliance.compliance_report`` is timed 20 times (after one warm-up call that compiles the
geofence, as a running process has it already), and the whole page (``GET /admin/compliance/``, Django's test
client as a superuser: the view, the report and the template) 10 times.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import timedelta
from typing import Any

from bench import _geofence_city, common

N_VEHICLES = 100_000
STATUSES = [("available", 0.70), ("on_trip", 0.08), ("reserved", 0.02), ("low_battery", 0.06),
            ("maintenance", 0.04), ("in_workshop", 0.10)]
_COLUMNS = ("id", "code", "imei", "vehicle_type_id", "city_id", "status", "status_before_loss", "trip_id",
            "battery_pct", "range_meters", "lat", "lon", "cell", "position_at", "last_event_at", "locked",
            "odometer_meters", "flags", "secret_hash", "created_at", "updated_at")


def _setup() -> tuple[Any, list[Any]]:
    from fleet.models import City, VehicleType, Zone

    city = City.objects.create(slug="bench", name="Bench City", timezone="Europe/Berlin", currency="EUR")
    types = [VehicleType.objects.create(code=code, name=code, form_factor="scooter_standing",
                                        propulsion_type="electric", max_range_meters=40_000)
             for code in _geofence_city.TYPES]
    specs, _ = _geofence_city.city()
    for priority, spec in enumerate(specs):
        rule = spec.rules[-1]  # the zone's rule for all types
        cap = 40 if spec.kind == "no_parking" and priority % 10 == 0 else None
        Zone.objects.create(
            city=city, name=spec.name, kind=spec.kind, priority=priority, geometry=spec.geometry,
            starts_at=spec.start, ends_at=spec.end, ride_start_allowed=rule.ride_start_allowed,
            ride_end_allowed=rule.ride_end_allowed, ride_through_allowed=rule.ride_through_allowed,
            maximum_speed_kph=rule.maximum_speed_kph, station_parking=rule.station_parking, vehicle_cap=cap)
    return city, types


def _rows(n: int, city: Any, types: list[Any], rng: random.Random) -> Any:
    from django.utils import timezone

    from fleet import grid

    now = timezone.now()
    names, weights = zip(*STATUSES, strict=True)
    lon0, lat0 = _geofence_city.CENTRE
    for i in range(n):
        lat, lon = lat0 + rng.uniform(-0.07, 0.07), lon0 + rng.uniform(-0.11, 0.11)
        status = rng.choices(names, weights)[0]
        trip = uuid.uuid4() if status in ("on_trip", "reserved") else None
        event = now - timedelta(hours=rng.expovariate(1 / 30))  # a mean of 30 hours since the last event
        yield (uuid.uuid4(), f"C{i:07d}", f"{i:015d}", rng.choice(types).id, city.id, status, "", trip,
               rng.randint(5, 100), 20_000, lat, lon, grid.cell_of(lat, lon), now, event, True, 0, "{}", "", now, now)


def _load(city: Any, types: list[Any]) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY fleet_vehicle ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in _rows(N_VEHICLES, city, types, random.Random(42)):
                copy.write_row(row)
        cursor.execute("ANALYZE fleet_vehicle")
    return time.perf_counter() - started


def _time_report(city: Any) -> tuple[list[float], list[float], Any]:
    """Wall-clock and this process's CPU milliseconds per report (the CPU does not depend on how busy the shared
    machine is; the wall clock includes PostgreSQL's work)."""
    from fleet.selectors import compliance

    report = compliance.compliance_report(city_id=city.id, idle_days=3)  # warm-up: compiles the geofence
    wall, cpu = [], []
    for _ in range(20):
        with common.Timer() as timer:
            report = compliance.compliance_report(city_id=city.id, idle_days=3)
        wall.append(timer.wall_s * 1000)
        cpu.append(timer.cpu_s * 1000)
    return wall, cpu, report


def _time_page(city: Any) -> list[float]:
    from django.test import Client

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.create_superuser(email="bench@example.com", password="x" * 16))
    samples = []
    for _ in range(10):
        with common.Timer() as timer:
            response = client.get("/admin/compliance/", {"city": city.slug})
        assert response.status_code == 200, response.status_code
        samples.append(timer.wall_s * 1000)
    return samples


def main() -> dict[str, Any]:
    with common.django_database("compliance"):
        city, types = _setup()
        load_s = _load(city, types)
        print(f"compliance: 200 zones, {N_VEHICLES} vehicles loaded in {load_s:.1f} s", flush=True)
        report_ms, report_cpu_ms, report = _time_report(city)
        page_ms = _time_page(city)
    report_p = common.percentiles(report_ms, (50, 95))
    report_cpu = common.percentiles(report_cpu_ms, (50, 95))
    page_p = common.percentiles(page_ms, (50, 95))
    print(f"compliance: {report.parked} parked vehicles checked; {report.misparked_total} misparked, "
          f"{report.outside_area_total} outside the area, {report.idle_total} idle > 3 days, "
          f"{sum(1 for c in report.caps if c.over)} of {len(report.caps)} capped zones over their cap", flush=True)
    print(f"compliance: report p50 {report_p['p50']} ms, p95 {report_p['p95']} ms (CPU of this process p50 "
          f"{report_cpu['p50']} ms); "
          f"page p50 {page_p['p50']} ms, p95 {page_p['p95']} ms", flush=True)
    return {"vehicles": N_VEHICLES, "parked": report.parked, "zones": 200,
            "report_p50_ms": report_p["p50"], "report_p95_ms": report_p["p95"], "report_cpu_p50_ms": report_cpu["p50"],
            "page_p50_ms": page_p["p50"], "page_p95_ms": page_p["p95"]}
