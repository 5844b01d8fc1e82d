"""MDS /trips: rides closed in an hour as MDS trips (schema, units, cities), and the hour's status."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from feeds.mds import hours, trips
from feeds.mds.hours import HourState
from tests.accounts.factories import UserFactory
from tests.feeds import mds_data
from tests.feeds.mds_data import PROVIDER, UUID_RE, past_hour
from tests.feeds.mds_schema import validate, validate_model
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def city() -> Any:
    return CityFactory.create(slug="berlin")


def test_trips_of_an_hour_are_mds_trips_in_ms_seconds_and_metres(city: Any) -> None:
    hour = past_hour()
    vehicle, rider = VehicleFactory.create(city=city), UserFactory.create()
    ended = mds_data.ride(vehicle, rider, start=hour - timedelta(minutes=10), end=hour + timedelta(minutes=5, seconds=30),
                          distance_m=2345)
    cancelled = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=20), end=hour + timedelta(minutes=21),
                              cancel=True)
    mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=50), end=hour + timedelta(minutes=61))  # next hour

    found = trips.trips_ended_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour)

    validate({"version": "2.0.0", "trips": found}, "/trips")
    for trip in found:
        validate_model(trip, "trip.yaml")
    assert [t["trip_id"] for t in found] == [str(ended.id), str(cancelled.id)]
    first, second = found
    assert first["start_time"] == mds_data.ms(hour - timedelta(minutes=10))  # integer milliseconds
    assert first["end_time"] == mds_data.ms(hour + timedelta(minutes=5, seconds=30))
    assert (first["duration"], first["distance"]) == (930, 2345)  # seconds, metres
    assert first["end_location"] == {"lat": 52.53, "lng": 13.41} and first["trip_type"] == ["rider"]
    assert (second["duration"], second["distance"]) == (60, 0)  # a start cancelled before its unlock
    assert second["end_location"] == second["start_location"]
    for trip in found:
        assert all(re.match(UUID_RE, trip[key]) for key in ("trip_id", "device_id", "provider_id"))


def test_another_citys_trips_are_not_visible(city: Any) -> None:
    hour = past_hour()
    other = VehicleFactory.create(city=CityFactory.create(slug="paris"))
    mds_data.ride(other, UserFactory.create(), start=hour, end=hour + timedelta(minutes=5))
    assert trips.trips_ended_in_hour(city_ids=[city.id], provider_id=PROVIDER, start=hour) == []


def test_the_hour_parameter_is_a_utc_hour() -> None:
    assert hours.hour_param({"end_time": "2026-12-01T07"}, "end_time").isoformat() == "2026-12-01T07:00:00+00:00"
    for missing in ({}, {"end_time": ""}):
        with pytest.raises(hours.errors.ParamMissing):
            hours.hour_param(missing, "end_time")
    for bad in ("2026-12-01T24", "2026-12-01", "2026-02-30T01", "2026-12-01T07:00", "x"):
        with pytest.raises(hours.errors.ParamInvalid):
            hours.hour_param({"end_time": bad}, "end_time")


def test_hour_states_future_not_operated_pending_complete(city: Any, settings: Any) -> None:
    settings.MDS_HOUR_GRACE_S = 300
    now = timezone.now()
    hour, vehicle, rider = past_hour(), VehicleFactory.create(city=city), UserFactory.create()
    state = lambda start, **kw: hours.hour_state(city_ids=[city.id], start=start, now=kw.get("now", now),  # noqa: E731
                                                 trips=kw.get("trips", True))
    assert state(hour) == HourState.NOT_OPERATED  # no vehicle event yet at all
    mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=10), end=hour + timedelta(minutes=20))
    assert state(hour - timedelta(hours=1)) == HourState.NOT_OPERATED  # before the first event
    assert state(hour) == HourState.COMPLETE
    assert state(past_hour(0)) == HourState.FUTURE  # the current hour is not past
    assert state(hour, now=hour + timedelta(hours=1, seconds=299)) == HourState.PENDING  # within the grace
    assert state(hour, now=hour + timedelta(hours=1, seconds=300)) == HourState.COMPLETE
    open_ride = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=30))
    assert state(hour, trips=False) == HourState.PENDING  # its trip_start names a trip not served yet
    assert state(hour, trips=True) == HourState.COMPLETE
    open_ride.state, open_ride.end_requested_at = "locking", hour + timedelta(minutes=59)
    open_ride.save()
    assert state(hour, trips=True) == HourState.PENDING  # may still end in the hour


def test_an_hour_with_telemetry_still_in_the_streams_is_pending(city: Any) -> None:
    from telemetry import streams

    hour = past_hour()
    mds_data.ride(VehicleFactory.create(city=city), UserFactory.create(), start=hour, end=hour + timedelta(minutes=5))
    assert hours.hour_state(city_ids=[city.id], start=hour, now=timezone.now(), trips=False) == HourState.COMPLETE
    entry = f"{mds_data.ms(hour) + 1000}-0"  # accepted during the hour, not yet applied by a drainer
    streams.client().xadd(streams.stream_key(0), {"m": b"x"}, id=entry)
    assert hours.hour_state(city_ids=[city.id], start=hour, now=timezone.now(), trips=False) == HourState.PENDING


# --- Through HTTP: /mds/trips -------------------------------------------------------------------------------------

URL = "/mds/trips"


def test_http_trips_of_a_complete_hour(mds_client: Any, mds_city: Any, other_city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    mine = mds_data.ride(VehicleFactory.create(city=mds_city), rider, start=hour, end=hour + timedelta(minutes=5))
    mds_data.ride(VehicleFactory.create(city=other_city), rider, start=hour, end=hour + timedelta(minutes=6))

    r = mds_client.get(URL, {"end_time": mds_data.hour_param(hour)})

    assert (r.status_code, r["Content-Type"]) == (200, "application/vnd.mds+json;version=2.0")
    body = r.json()
    validate(body, "/trips")
    assert body["version"] == "2.0.0" and "links" not in body  # never paginated
    assert [t["trip_id"] for t in body["trips"]] == [str(mine.id)]  # the other city's trip is not visible
    device = mds_client.get(f"/mds/vehicles/{body['trips'][0]['device_id']}")  # every device_id resolves
    assert device.status_code == 200


def test_http_trips_status_per_hour(mds_client: Any, mds_city: Any, settings: Any) -> None:
    hour, vehicle = past_hour(), VehicleFactory.create(city=mds_city)
    assert mds_client.get(URL, {"end_time": mds_data.hour_param(hour)}).status_code == 404  # never operated
    mds_data.ride(vehicle, UserFactory.create(), start=hour - timedelta(hours=1), end=hour - timedelta(minutes=50))

    complete = mds_client.get(URL, {"end_time": mds_data.hour_param(hour)})
    assert (complete.status_code, complete.json()) == (200, {"version": "2.0.0", "trips": []})  # operated, no trips
    before = mds_client.get(URL, {"end_time": mds_data.hour_param(hour - timedelta(hours=2))})
    current = mds_client.get(URL, {"end_time": mds_data.hour_param(past_hour(0))})
    future = mds_client.get(URL, {"end_time": mds_data.hour_param(past_hour(-5))})
    for r in (before, current, future):
        assert (r.status_code, r.json()["error"]) == (404, "hour_not_available")
        validate(r.json(), "/trips", "500")  # the MDS error body
    settings.MDS_HOUR_GRACE_S = 4 * 3600  # the hour's grace not over yet
    pending = mds_client.get(URL, {"end_time": mds_data.hour_param(hour)})
    assert (pending.status_code, pending.json()) == (202, {"version": "2.0.0"})
    assert int(pending["Retry-After"]) > 0


def test_http_trips_without_or_with_a_bad_hour_is_400(mds_client: Any, mds_city: Any) -> None:
    missing = mds_client.get(URL)
    assert (missing.status_code, missing.json()["error"], missing.json()["error_details"]) == (
        400, "missing_param", ["end_time"])
    bad = mds_client.get(URL, {"end_time": "2026-12-01T7"})
    assert (bad.status_code, bad.json()["error"]) == (400, "bad_param")


def test_http_trips_refuses_another_mds_version(mds_client: Any, mds_city: Any) -> None:
    r = mds_client.get(URL, {"end_time": mds_data.hour_param(past_hour())},
                       HTTP_ACCEPT="application/vnd.mds+json;version=1.2")
    assert (r.status_code, r.json()["error"]) == (406, "unsupported_version")
