"""GBFS 3.0 and 2.3 feeds: every file valid against MobilityData's schemas, and the rules the schemas do not carry
(the spec's text and the validator's conditional checks): ids defined where used, ranges of motorised vehicles,
languages, which vehicles are public, stations."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core.management import call_command

from feeds.gbfs import cache as gbfs_cache
from feeds.gbfs import ids
from feeds.models import GbfsSystem
from fleet import services as fleet_services
from fleet.models import Vehicle
from tests.feeds.gbfs_support import (
    BASE,
    _fresh_feed_cache,  # noqa: F401  (autouse fixture)
    city_with_stations,
    city_without_stations,
    fetch,
    public_ids,
    walk_manifest,
)

pytestmark = pytest.mark.django_db

V3_FILES = {"gbfs_versions", "system_information", "vehicle_types", "vehicle_status", "system_pricing_plans",
            "geofencing_zones", "system_alerts"}
V2_FILES = {"gbfs_versions", "system_information", "vehicle_types", "free_bike_status", "system_pricing_plans",
            "geofencing_zones", "system_alerts"}
STATIONS = {"station_information", "station_status"}


def check_v3_references(files: dict[str, dict[str, Any]]) -> None:
    """The validator's cross-file rules (gbfs-validator partials) and the spec's conditional requirements."""
    languages = set(files["system_information"]["data"]["languages"])
    types = {t["vehicle_type_id"]: t for t in files["vehicle_types"]["data"]["vehicle_types"]}
    plans = {p["plan_id"] for p in files["system_pricing_plans"]["data"]["plans"]}
    stations = {s["station_id"] for s in files.get("station_information", {"data": {"stations": []}})["data"]["stations"]}
    for vehicle_type in types.values():
        assert vehicle_type["default_pricing_plan_id"] in plans
        assert set(vehicle_type["pricing_plan_ids"]) <= plans
        if vehicle_type["propulsion_type"] != "human":
            assert vehicle_type["max_range_meters"] > 0
        assert {text["language"] for text in vehicle_type["name"]} == languages
    for vehicle in files["vehicle_status"]["data"]["vehicles"]:
        assert isinstance(vehicle["vehicle_id"], str)
        assert vehicle["vehicle_type_id"] in types
        assert isinstance(vehicle["is_reserved"], bool) and isinstance(vehicle["is_disabled"], bool)
        assert ("lat" in vehicle and "lon" in vehicle) or "station_id" in vehicle
        if types[vehicle["vehicle_type_id"]]["propulsion_type"] != "human":
            assert vehicle["current_range_meters"] >= 0
        if "station_id" in vehicle:
            assert vehicle["station_id"] in stations
    if "station_status" in files:
        status = files["station_status"]["data"]["stations"]
        assert {s["station_id"] for s in status} == stations
        for station in status:
            assert {t["vehicle_type_id"] for t in station["vehicle_types_available"]} == set(types)
    for plan in files["system_pricing_plans"]["data"]["plans"]:
        assert {text["language"] for text in plan["name"]} == languages
    for feature in files["geofencing_zones"]["data"]["geofencing_zones"]["features"]:
        assert {text["language"] for text in feature["properties"]["name"]} == languages
    assert [s for s in files["system_information"]["data"]["name"]]


def test_both_cities_publish_every_file_valid_in_3_0_and_2_3(client: Any) -> None:
    city_with_stations()
    city_without_stations()
    walked = walk_manifest(client)
    assert set(walked) == {"freewheel_stations", "freewheel_plain"}
    assert set(walked["freewheel_stations"]["3.0"].files) == V3_FILES | STATIONS
    assert set(walked["freewheel_stations"]["2.3"].files) == V2_FILES | STATIONS
    assert set(walked["freewheel_plain"]["3.0"].files) == V3_FILES  # no parking zones: no station files
    assert set(walked["freewheel_plain"]["2.3"].files) == V2_FILES
    for system in walked.values():
        check_v3_references(system["3.0"].files)
        info = system["3.0"].files["system_information"]["data"]
        assert info["manifest_url"] == f"{BASE}/gbfs/manifest.json"
        assert info["timezone"] == "Europe/Berlin"
        assert info["opening_hours"] and info["feed_contact_email"]
        versions = system["3.0"].files["gbfs_versions"]["data"]["versions"]
        assert [v["version"] for v in versions] == ["2.3", "3.0"]
        alerts = system["3.0"].files["system_alerts"]["data"]["alerts"]
        assert len(alerts) == (1 if "station_information" in system["3.0"].files else 0)  # not the one that is over
        # 2.3 speaks one language, the system's first, and says so
        assert system["2.3"].files["system_information"]["data"]["language"] == info["languages"][0]


def test_only_vehicles_on_the_street_and_not_in_use_are_public(client: Any) -> None:
    system, made = city_with_stations()
    vehicles = made["vehicles"]
    walked = walk_manifest(client)["freewheel_stations"]
    v3 = walked["3.0"].files["vehicle_status"]["data"]["vehicles"]
    v2 = walked["2.3"].files["free_bike_status"]["data"]["bikes"]
    # Public: available, in a station, disabled (low battery, maintenance), reserved, the human-powered bike.
    assert len(v3) == len(v2) == 6
    assert sum(v["is_reserved"] for v in v3) == 1
    assert sum(v["is_disabled"] for v in v3) == 2
    assert {v["vehicle_type_id"] for v in v3} == {"gbfs-scooter", "gbfs-bike"}  # no type without a tariff
    published = " ".join(str(v) for v in v3 + v2)
    for vehicle in vehicles.values():  # no internal id, code or IMEI leaks
        assert str(vehicle.id) not in published and vehicle.code not in published and vehicle.imei not in published
    bike = next(v for v in v3 if v["vehicle_type_id"] == "gbfs-bike")
    assert "current_range_meters" not in bike  # human-powered: no range
    disabled = next(v for v in v3 if v["is_disabled"] and "station_id" in v)
    assert disabled["current_range_meters"] == 5 * 40_000 // 100  # estimated from the battery
    assert [v["vehicle_id"] for v in v3] == sorted(v["vehicle_id"] for v in v3)  # ordered by the public id only
    # Deep links with the rotating id: android (its app is in rental_apps), web (https); no ios app, no ios link.
    assert all(v["rental_uris"] == {"android": f"https://example.com/rent?vehicle={v['vehicle_id']}",
                                    "web": f"https://example.com/rent?vehicle={v['vehicle_id']}"} for v in v3)
    assert set(walked["3.0"].files["system_information"]["data"]["rental_apps"]) == {"android"}
    # Nothing changed in the fleet by reading it.
    assert Vehicle.objects.get(id=vehicles["on_trip"].id).status == "on_trip"


def test_vehicles_in_a_parking_zone_belong_to_its_virtual_station(client: Any) -> None:
    system, made = city_with_stations()
    walked = walk_manifest(client)["freewheel_stations"]["3.0"].files
    station_id = str(made["station"].id)
    info = {s["station_id"]: s for s in walked["station_information"]["data"]["stations"]}
    assert info[station_id]["is_virtual_station"] is True
    assert info[station_id]["station_area"] == made["station"].geometry
    assert (info[station_id]["lat"], info[station_id]["lon"]) == (52.521, 13.401)  # the square's centre
    in_station = [v for v in walked["vehicle_status"]["data"]["vehicles"] if v.get("station_id") == station_id]
    assert len(in_station) == 2
    status = {s["station_id"]: s for s in walked["station_status"]["data"]["stations"]}[station_id]
    assert (status["num_vehicles_available"], status["num_vehicles_disabled"]) == (1, 1)
    assert {t["vehicle_type_id"]: t["count"] for t in status["vehicle_types_available"]} == {
        "gbfs-scooter": 1, "gbfs-bike": 0}
    v2 = {s["station_id"]: s for s in walk_manifest(client)["freewheel_stations"]["2.3"].files["station_status"]
          ["data"]["stations"]}
    assert v2[station_id]["num_bikes_available"] == 1


def test_vehicle_id_rotates_after_every_trip_and_only_then(client: Any) -> None:
    system, made = city_with_stations()
    vehicle = made["vehicles"]["available"]
    where = (vehicle.lat, vehicle.lon)
    first = public_ids(client, system.system_id)[where]
    assert public_ids(client, system.system_id)[where] == first  # stable while it stands still
    assert first == ids.public_vehicle_id(vehicle.id, None)  # the database computes the same MAC as Python

    reservation = uuid.uuid4()
    fleet_services.reservation_start(vehicle_id=vehicle.id, reservation_id=reservation)
    assert public_ids(client, system.system_id)[where] == first  # reserved: shown, same id
    fleet_services.reservation_cancel(vehicle_id=vehicle.id, reservation_id=reservation)
    assert public_ids(client, system.system_id)[where] == first

    trip = uuid.uuid4()
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=trip)
    assert where not in public_ids(client, system.system_id)  # on a trip: never public
    fleet_services.trip_end(vehicle_id=vehicle.id, trip_id=trip)
    second = public_ids(client, system.system_id)[where]
    assert second != first
    assert second == ids.public_vehicle_id(vehicle.id, trip)

    trip = uuid.uuid4()
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=trip)
    fleet_services.trip_cancel(vehicle_id=vehicle.id, trip_id=trip)
    third = public_ids(client, system.system_id)[where]
    assert third not in (first, second)


def test_a_brand_system_shows_only_its_vehicle_types(client: Any) -> None:
    system, made = city_with_stations()
    scooter = made["types"][0]
    brand = GbfsSystem.objects.create(system_id="brand_scooters", city=system.city, name="Scooters only",
                                      feed_contact_email="gbfs@example.com")
    brand.vehicle_types.set([scooter])
    files = walk_manifest(client)["brand_scooters"]["3.0"].files
    check_v3_references(files)
    assert [t["vehicle_type_id"] for t in files["vehicle_types"]["data"]["vehicle_types"]] == ["gbfs-scooter"]
    assert len(files["system_pricing_plans"]["data"]["plans"]) == 1
    assert {v["vehicle_type_id"] for v in files["vehicle_status"]["data"]["vehicles"]} == {"gbfs-scooter"}


def test_unknown_or_unpublished_systems_and_files_are_404(client: Any) -> None:
    system, _ = city_without_stations()
    GbfsSystem.objects.filter(id=system.id).update(published=False)
    for path in ("/gbfs/v3/freewheel_plain/gbfs.json", "/gbfs/v3/nowhere/system_information.json",
                 "/gbfs/v2/freewheel_plain/vehicle_status.json", "/gbfs/v3/freewheel_plain/free_bike_status.json"):
        response = client.get(path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found"), path
    assert client.get("/gbfs/v4/freewheel_plain/gbfs.json").status_code == 404
    assert not gbfs_cache._local  # unknown systems are not kept in memory (random URLs must not grow it)
    assert fetch(client, f"{BASE}/gbfs/manifest.json")["data"]["datasets"] == []


def test_the_demo_city_has_a_valid_feed(client: Any, settings: Any) -> None:
    settings.DEBUG = True  # demo_data runs only with DEBUG on (pytest-django turns it off)
    call_command("demo_data", verbosity=0)
    walked = walk_manifest(client)
    assert set(walked) == {"freewheel_berlin"}
    files = walked["freewheel_berlin"]["3.0"].files
    check_v3_references(files)
    assert len(files["vehicle_status"]["data"]["vehicles"]) > 150
    assert len(files["station_information"]["data"]["stations"]) == 2
