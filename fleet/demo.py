"""Demo data of the fleet: Berlin with three vehicle types, six zones and 200 vehicles (``manage.py demo_data``).

Idempotent: the city, types, zones and vehicles are created only when missing. Vehicles go on the street
through the services (``provider_drop_off``), so each has an event log from the start.
"""

from __future__ import annotations

import random
from typing import Any, TextIO

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction

from accounts import roles
from accounts.models import User
from fleet import grid, services
from fleet.models import City, Vehicle, VehicleType, Zone
from fleet.services.credentials import credential_cache_keys, hash_secret
from fleet.states import Status

CITY_SLUG = "berlin"
N_VEHICLES = 200
DEMO_VEHICLE, DEMO_SECRET = "BER001", "demo-iot-secret-BER001-not-for-production"
# A field technician who works in Berlin only (docs/accounts.md "Cities"): sign in at /admin/ or /ops/tasks/.
TECHNICIAN_EMAIL, TECHNICIAN_PASSWORD = "technician@demo.freewheel.dev", "demo-technician-password"
TYPES = [
    {"code": "fw-scooter", "name": "Freewheel Scooter", "form_factor": "scooter_standing", "propulsion_type": "electric",
     "max_range_meters": 45_000, "max_permitted_speed_kph": 20, "min_rider_age": 16},
    {"code": "fw-ebike", "name": "Freewheel E-Bike", "form_factor": "bicycle", "propulsion_type": "electric_assist",
     "max_range_meters": 70_000, "max_permitted_speed_kph": 25, "min_rider_age": 16},
    {"code": "fw-moped", "name": "Freewheel Moped", "form_factor": "moped", "propulsion_type": "electric",
     "max_range_meters": 100_000, "max_permitted_speed_kph": 45, "min_rider_age": 18, "rider_capacity": 2},
]


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


ZONES: list[dict[str, Any]] = [
    {"name": "Berlin Mitte operating area", "kind": "operating_area", "priority": 100,
     "geometry": {"type": "Polygon", "coordinates": [[[13.30, 52.48], [13.46, 52.48], [13.49, 52.52], [13.45, 52.56],
                                                       [13.32, 52.56], [13.28, 52.52], [13.30, 52.48]]]}},
    {"name": "Alexanderplatz", "kind": "no_parking", "priority": 10, "geometry": _box(13.408, 52.519, 13.416, 52.524)},
    {"name": "Tiergarten", "kind": "slow", "priority": 20, "rules": {"maximum_speed_kph": 10},
     "geometry": _box(13.335, 52.509, 13.370, 52.520)},
    {"name": "Museumsinsel", "kind": "no_ride", "priority": 5, "geometry": _box(13.394, 52.517, 13.401, 52.522)},
    {"name": "Hauptbahnhof parking", "kind": "parking_mandatory", "priority": 1,
     "geometry": _box(13.3685, 52.5245, 13.3710, 52.5258)},
    {"name": "Rosenthaler Platz parking", "kind": "parking_preferred", "priority": 2,
     "geometry": _box(13.4005, 52.5290, 13.4025, 52.5300)},
]


def _catalogue() -> tuple[City, list[VehicleType]]:
    city, _ = City.objects.get_or_create(
        slug=CITY_SLUG, defaults={"name": "Berlin", "timezone": "Europe/Berlin", "currency": "EUR",
                                  "default_language": "de"},
    )
    types = [VehicleType.objects.get_or_create(code=t["code"], defaults=t)[0] for t in TYPES]
    return city, types


def _zones(city: City) -> int:
    if Zone.objects.filter(city=city).exists():
        return 0
    for spec in ZONES:
        services.zone_create(city=city, **spec)
    return len(ZONES)


def _vehicles(city: City, types: list[VehicleType]) -> int:
    rng = random.Random(2026)  # the same fleet on every machine
    created = 0
    for n in range(1, N_VEHICLES + 1):
        lat, lon = rng.uniform(52.49, 52.545), rng.uniform(13.33, 13.45)
        battery = rng.choice([9, 12] + list(range(30, 101, 5)))
        code = f"BER{n:03d}"
        if Vehicle.objects.filter(code=code).exists():
            continue
        vehicle = Vehicle.objects.create(
            code=code, imei=f"86{n:013d}", vehicle_type=types[n % len(types)], city=city, status=Status.IN_WORKSHOP,
            battery_pct=battery, range_meters=int(battery / 100 * (types[n % len(types)].max_range_meters or 0)),
            lat=lat, lon=lon, cell=grid.cell_of(lat, lon),
        )
        _deploy(vehicle, lat, lon, battery, n)
        created += 1
    return created


def _deploy(vehicle: Vehicle, lat: float, lon: float, battery: int, n: int) -> None:
    services.vehicle_deploy(vehicle_id=vehicle.id, location=services.Location(lat, lon))
    if battery < 15:
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"], battery_pct=battery)
    elif n % 25 == 0:
        services.vehicle_set_maintenance(vehicle_id=vehicle.id)


def _demo_credential() -> None:
    vehicle = Vehicle.objects.get(code=DEMO_VEHICLE)
    if vehicle.secret_hash != hash_secret(DEMO_SECRET):
        Vehicle.objects.filter(id=vehicle.id).update(secret_hash=hash_secret(DEMO_SECRET))
        cache.delete_many(credential_cache_keys(vehicle))


def _technician(city: City) -> None:
    """The Berlin-only field technician, reset so that the printed password always works."""
    user, _ = User.objects.update_or_create(email=TECHNICIAN_EMAIL, defaults={
        "name": "Demo Technician (Berlin)", "is_staff": True, "is_superuser": False, "is_active": True,
        "status": User.Status.ACTIVE, "blocked_reason": ""})
    user.set_password(TECHNICIAN_PASSWORD)
    user.save(update_fields=["password"])
    group, _ = Group.objects.get_or_create(name=roles.FIELD_TECHNICIAN)
    user.groups.add(group)
    services.staff_cities_set(user=user, cities=[city], all_cities=False, by=None)


@transaction.atomic
def load(*, stdout: TextIO) -> None:
    city, types = _catalogue()
    zones = _zones(city)
    vehicles = _vehicles(city, types)
    _demo_credential()
    _technician(city)
    stdout.write(f"fleet: {zones} zones and {vehicles} vehicles created in {city.name}\n")
    summary(stdout=stdout)


def summary(*, stdout: TextIO) -> None:
    city = City.objects.filter(slug=CITY_SLUG).first()
    if city is None:
        return
    vehicle = Vehicle.objects.filter(code=DEMO_VEHICLE).first()
    stdout.write(f"fleet: city {city.name} id {city.id} (GET /api/v1/cities/{city.slug}, zones: /api/v1/cities/{city.slug}/zones)\n")
    if vehicle is not None:
        stdout.write(f"fleet: demo vehicle {vehicle.code} id {vehicle.id}, IoT secret {DEMO_SECRET}\n")
    stdout.write("fleet: nearby: GET /api/v1/vehicles/nearby?lat=52.52&lon=13.405&radius=1000\n")
    if User.objects.filter(email=TECHNICIAN_EMAIL).exists():
        stdout.write(f"fleet: field technician (Berlin only): {TECHNICIAN_EMAIL} / {TECHNICIAN_PASSWORD} "
                     "at /ops/tasks/ and /admin/\n")
