"""GBFS test support: two cities (one with virtual stations, one without), the official schemas, a feed walker.

The schemas are MobilityData's official ones, copied into ``tests/feeds/schemas/gbfs`` (see its README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.utils import timezone

from billing.services import tariffs
from feeds.gbfs import cache as gbfs_cache
from feeds.models import GbfsAlert, GbfsSystem
from fleet.models import City, VehicleType, ZoneKind
from fleet.states import Status
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory, square

SPECS = Path(__file__).resolve().parent / "schemas" / "gbfs"
HOST = "testserver"
BASE = f"http://{HOST}"


@pytest.fixture(autouse=True)
def _fresh_feed_cache() -> None:
    gbfs_cache.forget()  # Redis is cleared before every test (tests/conftest.py); this process's copies too


@cache
def _validator(version: str, name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SPECS / f"v{version}" / f"{name}.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def validate(version: str, name: str, document: dict[str, Any]) -> None:
    errors = sorted(_validator(version, name).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{version} {name}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5])


@dataclass
class Walk:
    """Every file of one system in one version, as fetched through the feed's own links."""

    version: str
    gbfs: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


def fetch(client: Any, url: str) -> dict[str, Any]:
    assert url.startswith(BASE + "/gbfs/"), url  # absolute links, on our host
    response = client.get(url.removeprefix(BASE))
    assert response.status_code == 200, (url, response.status_code)
    assert response["Content-Type"] == "application/json"
    return dict(json.loads(response.content))


def walk_manifest(client: Any) -> dict[str, dict[str, Walk]]:
    """system_id -> version -> Walk: the manifest, each version's gbfs.json, each file it lists, all validated."""
    manifest = fetch(client, f"{BASE}/gbfs/manifest.json")
    validate("3.0", "manifest", manifest)
    out: dict[str, dict[str, Walk]] = {}
    for dataset in manifest["data"]["datasets"]:
        assert [v["version"] for v in dataset["versions"]] == ["2.3", "3.0"]  # sorted, as the spec wants
        for entry in dataset["versions"]:
            out.setdefault(dataset["system_id"], {})[entry["version"]] = walk(client, entry["url"], entry["version"])
    return out


def walk(client: Any, gbfs_url: str, version: str) -> Walk:
    discovery = fetch(client, gbfs_url)
    validate(version, "gbfs", discovery)
    result = Walk(version, discovery)
    feeds = discovery["data"]["feeds"] if version == "3.0" else next(iter(discovery["data"].values()))["feeds"]
    for entry in feeds:
        document = fetch(client, entry["url"])
        validate(version, entry["name"], document)
        check_envelope(version, document)
        result.files[entry["name"]] = document
    return result


def check_envelope(version: str, document: dict[str, Any]) -> None:
    """What the schemas leave to the text: exact version, RFC 3339 with an offset (3.0) or POSIX seconds (2.3)."""
    assert document["version"] == version
    if version == "3.0":
        assert isinstance(document["last_updated"], str)
        assert datetime.fromisoformat(document["last_updated"]).tzinfo is not None
    else:
        assert isinstance(document["last_updated"], int)


def motorised_type(code: str, **fields: Any) -> VehicleType:
    return VehicleTypeFactory.create(code=code, name="E-Scooter", **fields)


def publish_tariff(city: City, vehicle_type: VehicleType) -> None:
    tariffs.tariff_publish(city=city, vehicle_type=vehicle_type, unlock_fee=Decimal("1.00"),
                           brackets=[{"start_minute": 0, "per_minute": "0.25"}])


def city_with_stations() -> tuple[GbfsSystem, dict[str, Any]]:
    """Hamburg-ish: an operating area, one mandatory and one preferred parking zone, two types with tariffs, one
    type without, vehicles in every interesting state."""
    city = CityFactory.create(slug="gbfs-stations", default_language="de")
    ZoneFactory(city=city, name="Area", kind=ZoneKind.OPERATING_AREA)
    station = ZoneFactory(city=city, name="Hauptbahnhof", kind=ZoneKind.PARKING_MANDATORY, priority=1,
                          geometry=square(13.40, 52.52, 0.002), station_parking=True)
    ZoneFactory(city=city, name="Rosenthaler Platz", kind=ZoneKind.PARKING_PREFERRED, priority=2,
                geometry=square(13.45, 52.55, 0.002), station_parking=False)
    scooter, bike = motorised_type("gbfs-scooter"), VehicleTypeFactory.create(
        code="gbfs-bike", name="Bike", form_factor="bicycle", propulsion_type="human", max_range_meters=None)
    untariffed = motorised_type("gbfs-untariffed")
    for vehicle_type in (scooter, bike):
        publish_tariff(city, vehicle_type)
    in_station = dict(lat=52.521, lon=13.401)
    vehicles = {
        "available": VehicleFactory(city=city, vehicle_type=scooter, lat=52.5301, lon=13.4101),
        "in_station": VehicleFactory(city=city, vehicle_type=scooter, **in_station),
        "disabled_in_station": VehicleFactory(city=city, vehicle_type=scooter, status=Status.LOW_BATTERY,
                                              battery_pct=5, range_meters=None, **in_station),
        "bike": VehicleFactory(city=city, vehicle_type=bike, battery_pct=None, range_meters=None),
        "reserved": VehicleFactory(city=city, vehicle_type=scooter, status=Status.RESERVED),
        "maintenance": VehicleFactory(city=city, vehicle_type=scooter, status=Status.MAINTENANCE),
        "on_trip": VehicleFactory(city=city, vehicle_type=scooter, status=Status.ON_TRIP),
        "elsewhere": VehicleFactory(city=city, vehicle_type=scooter, status=Status.ELSEWHERE),
        "workshop": VehicleFactory(city=city, vehicle_type=scooter, status=Status.IN_WORKSHOP),
        "non_contactable": VehicleFactory(city=city, vehicle_type=scooter, status=Status.NON_CONTACTABLE),
        "no_position": VehicleFactory(city=city, vehicle_type=scooter, lat=None, lon=None),
        "untariffed": VehicleFactory(city=city, vehicle_type=untariffed),
    }
    system = GbfsSystem.objects.create(
        system_id="freewheel_stations", city=city, name="Freewheel Stations", operator="Freewheel",
        languages=["de", "en"], feed_contact_email="gbfs@example.com", opening_hours="Mo-Su 05:00-24:00",
        terms_url="https://example.com/terms", terms_last_updated="2026-01-01", phone_number="+4930123456",
        android_store_uri="https://play.google.com/store/apps/details?id=example",
        android_discovery_uri="freewheel://", rental_uri="https://example.com/rent?vehicle={vehicle_id}",
    )
    now = timezone.now()
    GbfsAlert.objects.create(system=system, type="station_closure", summary="Hauptbahnhof closed on Sunday",
                             description="Building works", url="https://example.com/news",
                             starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    GbfsAlert.objects.create(system=system, summary="Over", starts_at=now - timedelta(days=2),
                             ends_at=now - timedelta(days=1))
    return system, {"vehicles": vehicles, "station": station, "types": (scooter, bike, untariffed)}


def city_without_stations() -> tuple[GbfsSystem, dict[str, Any]]:
    city = CityFactory.create(slug="gbfs-plain", default_language="en")
    ZoneFactory(city=city, name="Area", kind=ZoneKind.OPERATING_AREA)
    ZoneFactory(city=city, name="Old town", kind=ZoneKind.SLOW, maximum_speed_kph=10,
                geometry=square(13.40, 52.52, 0.01))
    moped = motorised_type("gbfs-moped", form_factor="moped", max_range_meters=80_000)
    publish_tariff(city, moped)
    vehicles = {"available": VehicleFactory(city=city, vehicle_type=moped, range_meters=None, battery_pct=50)}
    system = GbfsSystem.objects.create(system_id="freewheel_plain", city=city, name="Freewheel Plain",
                                       feed_contact_email="gbfs@example.com")
    return system, {"vehicles": vehicles, "types": (moped,)}


def public_ids(client: Any, system_id: str) -> dict[tuple[float, float], str]:
    """(lat, lon) -> vehicle_id in the system's 3.0 vehicle_status (fresh render)."""
    gbfs_cache.forget()
    from django.core.cache import cache as django_cache

    django_cache.clear()
    document = fetch(client, f"{BASE}/gbfs/v3/{system_id}/vehicle_status.json")
    return {(v["lat"], v["lon"]): v["vehicle_id"] for v in document["data"]["vehicles"]}

