"""MDS /events: the vehicle event log as MDS events (schema, state machine, trip_ids, cities)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from feeds.mds import events, trips
from fleet import services as fleet_services
from fleet import states
from tests.accounts.factories import UserFactory
from tests.feeds import mds_data
from tests.feeds.mds_data import PROVIDER, UUID_RE, past_hour
from tests.feeds.mds_schema import validate, validate_model
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def city() -> Any:
    return CityFactory.create(slug="berlin")


def _conforms(sequence: list[dict[str, Any]], first_state: str) -> None:
    """Each event's type is allowed from the state before it and leads to its ``vehicle_state`` (MDS table)."""
    state = first_state
    for event in sequence:
        (event_type,) = event["event_types"]
        assert event["vehicle_state"] in states.next_states(state, event_type), (state, event)
        state = event["vehicle_state"]


def test_events_of_an_hour_follow_the_state_machine_and_name_served_trips(city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    vehicle = VehicleFactory.create(city=city, battery_pct=40)
    first = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=1), end=hour + timedelta(minutes=9))
    low = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=10), end=hour + timedelta(minutes=20),
                        battery_pct=5)  # ends [trip_end, battery_low]
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_charged"], battery_pct=100,
                                      at=hour + timedelta(minutes=30))
    cancelled = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=40), end=hour + timedelta(minutes=41),
                              cancel=True)

    found = events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour)

    validate({"version": "2.0.0", "events": found}, "/events/historical")
    for event in found:
        validate_model(event, "event.yaml")
        assert re.match(UUID_RE, event["event_id"]) and re.match(UUID_RE, event["device_id"])
        assert event["location"].keys() == {"lat", "lng"}  # also on trip_cancel, logged without a position
    assert [e["event_types"] for e in found] == [["trip_start"], ["trip_end"], ["trip_start"], ["trip_end"],
                                                  ["battery_low"], ["battery_charged"], ["trip_start"],
                                                  ["trip_cancel"]]
    assert [e["vehicle_state"] for e in found][3:6] == ["available", "non_operational", "available"]
    assert found[3]["timestamp"] == found[4]["timestamp"] == mds_data.ms(hour + timedelta(minutes=20))
    assert len({e["event_id"] for e in found}) == len(found)
    _conforms(found, "available")
    served = {t["trip_id"] for t in trips.trips_ended_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour)}
    for event in found:
        if states.TRIP_EVENTS.intersection(event["event_types"]):
            assert event["trip_ids"] and set(event["trip_ids"]) <= served
        else:
            assert "trip_ids" not in event
    assert served == {str(first.id), str(low.id), str(cancelled.id)}


def test_reservation_events_carry_no_trip_ids(city: Any) -> None:
    import uuid

    hour, vehicle = past_hour(), VehicleFactory.create(city=city)
    reservation = uuid.uuid4()
    fleet_services.reservation_start(vehicle_id=vehicle.id, reservation_id=reservation, at=hour)
    fleet_services.reservation_cancel(vehicle_id=vehicle.id, reservation_id=reservation,
                                      at=hour + timedelta(minutes=5))
    found = events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour)
    assert [(e["vehicle_state"], e["event_types"]) for e in found] == [
        ("reserved", ["reservation_start"]), ("available", ["reservation_cancel"])]
    assert all("trip_ids" not in e for e in found)
    for event in found:
        validate_model(event, "event.yaml")


def test_another_citys_events_are_not_visible_and_the_hour_is_half_open(city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    other = VehicleFactory.create(city=CityFactory.create(slug="paris"))
    mds_data.ride(other, rider, start=hour + timedelta(minutes=1), end=hour + timedelta(minutes=2))
    mine = VehicleFactory.create(city=city)
    mds_data.ride(mine, rider, start=hour - timedelta(seconds=1), end=hour + timedelta(hours=1))
    assert events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour) == []
    assert len(events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour + timedelta(hours=1))) == 1


# --- Through HTTP: /mds/events/historical and /mds/events/recent --------------------------------------------------


def test_http_historical_events_name_trips_that_trips_serves(mds_client: Any, mds_city: Any, other_city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    mds_data.ride(VehicleFactory.create(city=mds_city), rider, start=hour, end=hour + timedelta(minutes=5))
    mds_data.ride(VehicleFactory.create(city=other_city), rider, start=hour, end=hour + timedelta(minutes=5))
    mds_data.ride(VehicleFactory.create(city=mds_city), rider, start=hour + timedelta(minutes=30),
                  end=hour + timedelta(minutes=90))  # ends in the next hour

    r = mds_client.get("/mds/events/historical", {"event_time": mds_data.hour_param(hour)})

    assert (r.status_code, r["Content-Type"]) == (200, "application/vnd.mds+json;version=2.0")
    validate(r.json(), "/events/historical")
    found = r.json()["events"]
    assert [e["event_types"] for e in found] == [["trip_start"], ["trip_end"], ["trip_start"]]
    served = set()
    for end_hour in (hour, hour + timedelta(hours=1)):
        trips_body = mds_client.get("/mds/trips", {"end_time": mds_data.hour_param(end_hour)}).json()
        served |= {t["trip_id"] for t in trips_body["trips"]}
    assert {trip for e in found for trip in e["trip_ids"]} <= served


def test_http_historical_events_wait_for_a_trip_started_in_the_hour(mds_client: Any, mds_city: Any) -> None:
    hour = past_hour()
    mds_data.ride(VehicleFactory.create(city=mds_city), UserFactory.create(), start=hour + timedelta(minutes=5))
    r = mds_client.get("/mds/events/historical", {"event_time": mds_data.hour_param(hour)})
    assert r.status_code == 202  # its trip_start would name a trip /trips does not serve yet
    missing = mds_client.get("/mds/events/historical")
    assert (missing.status_code, missing.json()["error_details"]) == (400, ["event_time"])


def test_http_recent_events_in_pages_with_next_null_last(mds_client: Any, mds_city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    vehicle = VehicleFactory.create(city=mds_city)
    for i in range(3):  # 6 events
        mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=10 * i), end=hour + timedelta(minutes=10 * i + 5))
    params = {"start_time": mds_data.ms(hour), "end_time": mds_data.ms(hour + timedelta(hours=1)), "limit": 4}

    first = mds_client.get("/mds/events/recent", params)
    assert first.status_code == 200
    validate(first.json(), "/events/recent")
    second = mds_client.get(first.json()["links"]["next"])
    validate(second.json(), "/events/recent")
    assert second.json()["links"]["next"] is None
    found = first.json()["events"] + second.json()["events"]
    assert [e["event_types"][0] for e in found] == ["trip_start", "trip_end"] * 3
    assert [e["timestamp"] for e in found] == sorted(e["timestamp"] for e in found)
    _conforms(found, "available")


def test_http_recent_events_refuse_more_than_two_weeks_back_or_a_missing_side(mds_client: Any,
                                                                             mds_city: Any) -> None:
    now = mds_data.ms(past_hour(0))
    old = now - 15 * 86_400_000
    r = mds_client.get("/mds/events/recent", {"start_time": old, "end_time": now})
    assert (r.status_code, r.json()["error"], r.json()["error_details"]) == (400, "bad_param", ["start_time"])
    r = mds_client.get("/mds/events/recent", {"start_time": now - 13 * 86_400_000, "end_time": now})
    assert r.status_code == 200
    for params in ({"start_time": now}, {"end_time": now}):
        r = mds_client.get("/mds/events/recent", params)
        assert (r.status_code, r.json()["error"]) == (400, "missing_param")
