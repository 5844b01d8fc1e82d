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
from tests.feeds.mds_models import assert_valid, assert_valid_body
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

    assert_valid_body("/events/historical", {"version": "2.0.0", "events": found})
    for event in found:
        assert_valid("event.yaml", event)
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
        assert_valid("event.yaml", event)


def test_another_citys_events_are_not_visible_and_the_hour_is_half_open(city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    other = VehicleFactory.create(city=CityFactory.create(slug="paris"))
    mds_data.ride(other, rider, start=hour + timedelta(minutes=1), end=hour + timedelta(minutes=2))
    mine = VehicleFactory.create(city=city)
    mds_data.ride(mine, rider, start=hour - timedelta(seconds=1), end=hour + timedelta(hours=1))
    assert events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour) == []
    assert len(events.events_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour + timedelta(hours=1))) == 1
