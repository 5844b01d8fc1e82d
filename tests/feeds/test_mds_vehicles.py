"""MDS /vehicles and /vehicles/status: derived from fleet's vehicles and event log, validated against MDS 2.0,
scoped to the agency's cities, paginated with JSON:API links, elsewhere/removed/missing kept for 90 minutes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import City, Vehicle
from fleet.services import Location
from tests.feeds import mds_schema
from tests.feeds.conftest import MdsClient
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db


def deployed(city: City, *, at: datetime | None = None, **fields: Any) -> Vehicle:
    """A vehicle of ``city`` put on the street through the event log (``provider_drop_off``)."""
    vehicle = VehicleFactory.create(city=city, available=False, **fields)
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["provider_drop_off"],
                                      at=at or timezone.now() - timedelta(minutes=30),
                                      location=Location(lat=52.52, lon=13.40), battery_pct=80)
    vehicle.refresh_from_db()
    return vehicle


def device_ids(body: dict[str, Any], key: str = "vehicles") -> set[str]:
    return {record["device_id"] for record in body[key]}


def test_vehicles_lists_the_agencys_deployed_vehicles_in_the_mds_schema(mds_client: MdsClient, mds_city: City,
                                                                         other_city: City) -> None:
    kind = VehicleTypeFactory(make="Segway", model="Max G30", form_factor="scooter_standing",
                              propulsion_type="electric")
    ours = deployed(mds_city, vehicle_type=kind)
    deployed(other_city)
    VehicleFactory(city=mds_city, available=False)  # never left the workshop: not deployed

    r = mds_client.get("/mds/vehicles")

    assert r.status_code == 200
    assert r["Content-Type"] == "application/vnd.mds+json;version=2.0"
    body = r.json()
    mds_schema.validate(body, "/vehicles")
    assert body["version"] == "2.0.0"
    assert body["links"]["next"] is None
    assert body["vehicles"] == [{
        "device_id": str(ours.id), "provider_id": "6f0a4a2e-5d43-4c1e-9b7a-3e1f0d2c9a51", "vehicle_id": ours.code,
        "vehicle_type": "scooter_standing", "propulsion_types": ["electric"],
        "vehicle_attributes": {"make": "Segway", "model": "Max G30"}, "maximum_speed": 20,
    }]
    assert isinstance(body["last_updated"], int) and body["ttl"] == 0


def test_vehicles_lists_those_deployed_in_the_last_30_days_and_resolves_any_device_id(
    mds_client: MdsClient, mds_city: City
) -> None:
    now = timezone.now()
    on_street = deployed(mds_city, at=now - timedelta(days=60))  # deployed long ago, still out: listed
    removed_lately = deployed(mds_city, at=now - timedelta(days=20))
    fleet_services.vehicle_transition(vehicle_id=removed_lately.id, event_types=["maintenance_pick_up"],
                                      at=now - timedelta(days=10))
    removed_long_ago = deployed(mds_city, at=now - timedelta(days=60))
    fleet_services.vehicle_transition(vehicle_id=removed_long_ago.id, event_types=["maintenance_pick_up"],
                                      at=now - timedelta(days=31))

    listed = device_ids(mds_client.get("/mds/vehicles").json())

    assert listed == {str(on_street.id), str(removed_lately.id)}
    r = mds_client.get(f"/mds/vehicles/{removed_long_ago.id}")  # still resolvable: it is in older feeds
    assert r.status_code == 200
    mds_schema.validate(r.json(), "/vehicles/{device_id}")
    assert [v["device_id"] for v in r.json()["vehicles"]] == [str(removed_long_ago.id)]
    r = mds_client.get(f"/mds/vehicles/{uuid.uuid4()}")
    assert (r.status_code, r.json()["error"]) == (404, "vehicle_not_found")


def test_vehicles_status_gives_last_applied_event_and_last_position_in_the_mds_schema(
    mds_client: MdsClient, mds_city: City
) -> None:
    now = timezone.now()
    vehicle = deployed(mds_city, at=now - timedelta(minutes=20))
    low = fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"], battery_pct=9,
                                            at=now - timedelta(minutes=10))
    # A delayed report, older than the last applied event: logged, not the vehicle's status.
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_charged"],
                                      at=now - timedelta(minutes=15))
    Vehicle.objects.filter(id=vehicle.id).update(lat=52.51, lon=13.39, speed_kph=18.0, battery_pct=9,
                                                 position_at=now - timedelta(seconds=5))

    r = mds_client.get("/mds/vehicles/status")

    assert r.status_code == 200
    body = r.json()
    mds_schema.validate(body, "/vehicles/status")
    assert body["links"]["next"] is None and body["ttl"] == 0
    (status,) = body["vehicles_status"]
    event, telemetry = status["last_event"], status["last_telemetry"]
    assert (event["event_id"], event["vehicle_state"], event["event_types"]) == (
        str(low.id), "non_operational", ["battery_low"])
    assert event["timestamp"] == int(low.timestamp.timestamp() * 1000)
    assert event["location"] == {"lat": 52.51, "lng": 13.39}  # logged without a position: the last known one
    assert (event["battery_percent"], "trip_ids" in event) == (9, False)
    assert telemetry["location"] == {"lat": 52.51, "lng": 13.39, "speed": 5.0}
    assert (telemetry["trip_ids"], telemetry["journey_id"], telemetry["battery_percent"]) == (None, None, 9)
    assert isinstance(telemetry["timestamp"], int)

    one = mds_client.get(f"/mds/vehicles/status/{vehicle.id}").json()
    mds_schema.validate(one, "/vehicles/status/{device_id}")
    assert one["vehicles_status"] == [status]


def test_a_vehicle_on_a_trip_carries_the_trip_in_its_event_and_telemetry(mds_client: MdsClient,
                                                                       mds_city: City) -> None:
    vehicle = deployed(mds_city)
    trip = uuid.uuid4()
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=trip)

    (status,) = mds_client.get("/mds/vehicles/status").json()["vehicles_status"]

    assert status["last_event"]["event_types"] == ["trip_start"]
    assert status["last_event"]["trip_ids"] == [str(trip)]
    assert status["last_telemetry"]["trip_ids"] == [str(trip)]
    mds_schema.validate_model(status, "vehicle-status.yaml")


def test_a_trip_ending_on_a_low_battery_is_a_valid_last_event_the_same_as_in_events(
        mds_client: MdsClient, mds_city: City) -> None:
    # The log holds one event [trip_end, battery_low] ending non_operational; the micromobility event schema allows
    # a non_operational event only non_operational types, so /vehicles/status serves the last part of the split
    # /events serves: same event_id and state, the last type.
    vehicle = deployed(mds_city)
    trip = uuid.uuid4()
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=trip, location=Location(lat=52.52, lon=13.40))
    logged = fleet_services.trip_end(vehicle_id=vehicle.id, trip_id=trip, battery_pct=5,
                                     location=Location(lat=52.53, lon=13.41))
    assert list(logged.event_types) == ["trip_end", "battery_low"]

    (status,) = mds_client.get("/mds/vehicles/status").json()["vehicles_status"]

    assert (status["last_event"]["event_id"], status["last_event"]["vehicle_state"],
            status["last_event"]["event_types"]) == (str(logged.id), "non_operational", ["battery_low"])
    assert "trip_ids" not in status["last_event"] and status["last_telemetry"]["trip_ids"] is None
    mds_schema.validate(mds_client.get("/mds/vehicles/status").json(), "/vehicles/status")
    mds_schema.validate(mds_client.get(f"/mds/vehicles/status/{vehicle.id}").json(), "/vehicles/status/{device_id}")


@pytest.mark.parametrize(("events", "minutes_ago", "listed"), [
    (["maintenance_pick_up"], 89, True),   # removed
    (["maintenance_pick_up"], 91, False),
    (["not_located"], 89, True),           # missing
    (["not_located"], 91, False),
    (["comms_lost"], 600, True),           # non_contactable: not one of the three, stays
    (["battery_low"], 600, True),          # non_operational on the street, stays
])
def test_removed_missing_and_elsewhere_vehicles_stay_90_minutes(
    mds_client: MdsClient, mds_city: City, events: list[str], minutes_ago: int, listed: bool
) -> None:
    now = timezone.now()
    vehicle = deployed(mds_city, at=now - timedelta(days=1))
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=events, at=now - timedelta(minutes=minutes_ago))

    found = device_ids(mds_client.get("/mds/vehicles/status").json(), "vehicles_status")

    assert found == ({str(vehicle.id)} if listed else set())
    r = mds_client.get(f"/mds/vehicles/status/{vehicle.id}")
    assert r.status_code == (200 if listed else 404)


def test_an_elsewhere_vehicle_stays_90_minutes(mds_client: MdsClient, mds_city: City) -> None:
    now = timezone.now()
    gone, back = deployed(mds_city, at=now - timedelta(hours=5)), deployed(mds_city, at=now - timedelta(hours=5))
    for vehicle, left in ((gone, now - timedelta(minutes=91)), (back, now - timedelta(minutes=30))):
        trip = uuid.uuid4()
        fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=trip, at=left - timedelta(minutes=5))
        fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["trip_leave_jurisdiction"],
                                          trip_id=trip, at=left)

    body = mds_client.get("/mds/vehicles/status").json()

    assert device_ids(body, "vehicles_status") == {str(back.id)}
    (status,) = body["vehicles_status"]
    assert status["last_event"]["vehicle_state"] == "elsewhere"
    mds_schema.validate(body, "/vehicles/status")


def test_status_pages_cost_the_same_few_queries_however_many_vehicles(
    mds_client: MdsClient, mds_city: City, django_assert_num_queries: Any
) -> None:
    for _ in range(3):
        deployed(mds_city)
    mds_client.get("/mds/vehicles/status")  # the first use of the token also records last_used_at
    # credential, cities, vehicles, their last events, the audit row
    with django_assert_num_queries(5):
        assert len(mds_client.get("/mds/vehicles/status").json()["vehicles_status"]) == 3
    for _ in range(5):
        deployed(mds_city)
    with django_assert_num_queries(5):
        pages = [mds_client.get("/mds/vehicles/status", {"limit": 8}).json()]
    assert len(pages[0]["vehicles_status"]) == 8


def test_vehicles_of_other_cities_never_appear_in_status(mds_client: MdsClient, mds_city: City,
                                                         other_city: City) -> None:
    ours, theirs = deployed(mds_city), deployed(other_city)
    assert device_ids(mds_client.get("/mds/vehicles/status").json(), "vehicles_status") == {str(ours.id)}
    r = mds_client.get(f"/mds/vehicles/status/{theirs.id}")
    assert (r.status_code, r.json()["error"]) == (404, "vehicle_not_found")
