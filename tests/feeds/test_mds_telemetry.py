"""MDS /telemetry: an hour of the telemetry history as MDS telemetry, streamed in pieces (schema, trip_ids, the two
points of every trip, units, cities)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from feeds.mds import telemetry
from telemetry import storage
from tests.accounts.factories import UserFactory
from tests.feeds import mds_data
from tests.feeds.mds_data import PROVIDER, UUID_RE, past_hour
from tests.feeds.mds_schema import validate, validate_model
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _partitions_forgotten() -> Iterator[None]:
    storage._known.clear()  # partitions created in a rolled-back test transaction are gone
    yield
    storage._known.clear()


@pytest.fixture
def city() -> Any:
    return CityFactory.create(slug="berlin")


def _body(city: Any, start: Any) -> tuple[dict[str, Any], list[bytes]]:
    pieces = [piece for piece, _ in telemetry.telemetry_body(city_ids=[city.id], provider_id=PROVIDER, start=start)]
    return json.loads(b"".join(pieces)), pieces


def test_an_hour_of_telemetry_with_trip_ids_on_trips_and_null_off_them(city: Any) -> None:
    hour, vehicle = past_hour(), VehicleFactory.create(city=city)
    ride = mds_data.ride(vehicle, UserFactory.create(), start=hour + timedelta(minutes=10),
                         end=hour + timedelta(minutes=20))
    minutes = [5, 12, 15, 25, 61]  # before, on, on, after the trip; the last one in the next hour
    mds_data.readings(vehicle.id, [(hour + timedelta(minutes=m), round(52.52 + m / 1000, 4), 13.4) for m in minutes])

    body, _ = _body(city, hour)

    validate(body, "/telemetry")
    points = body["telemetry"]
    for point in points:
        validate_model(point, "telemetry.yaml")
        assert re.match(UUID_RE, point["telemetry_id"]) and point["journey_id"] is None
    by_time = {p["timestamp"]: p for p in points}
    on = lambda m: by_time[mds_data.ms(hour + timedelta(minutes=m))]  # noqa: E731
    assert on(5)["trip_ids"] is None and on(25)["trip_ids"] is None
    assert on(12)["trip_ids"] == on(15)["trip_ids"] == [str(ride.id)]
    assert on(12)["location"] == {"lat": 52.532, "lng": 13.4, "heading": 90.0, "speed": 5.0,  # 18 km/h in m/s
                                  "horizontal_accuracy": 5.0}
    assert on(12)["battery_percent"] == 70
    assert on(10)["trip_ids"] == on(20)["trip_ids"] == [str(ride.id)]  # the trip's start and end points
    assert on(20)["location"] == {"lat": 52.53, "lng": 13.41}
    assert len(points) == 6 and mds_data.ms(hour + timedelta(minutes=61)) not in by_time
    assert len({p["telemetry_id"] for p in points}) == 6


def test_every_trip_has_at_least_two_points_even_without_readings(city: Any) -> None:
    hour, rider = past_hour(), UserFactory.create()
    vehicle = VehicleFactory.create(city=city)
    across = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=50), end=hour + timedelta(minutes=70))
    cancelled = mds_data.ride(vehicle, rider, start=hour + timedelta(minutes=80), end=hour + timedelta(minutes=81),
                              cancel=True)
    points = [p for start in (hour, hour + timedelta(hours=1)) for p in _body(city, start)[0]["telemetry"]]
    per_trip = Counter(trip for p in points for trip in p["trip_ids"] or [])
    assert per_trip == {str(across.id): 2, str(cancelled.id): 2}


def test_another_citys_telemetry_is_not_visible(city: Any) -> None:
    hour = past_hour()
    other = VehicleFactory.create(city=CityFactory.create(slug="paris"))
    mds_data.readings(other.id, [(hour + timedelta(minutes=1), 48.85, 2.35)])
    VehicleFactory.create(city=city)
    body, _ = _body(city, hour)
    assert body == {"version": "2.0.0", "telemetry": []}


def test_the_body_is_streamed_in_pieces_of_a_fetch(city: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "ROWS_PER_FETCH", 3)
    hour, vehicle = past_hour(), VehicleFactory.create(city=city)
    mds_data.readings(vehicle.id, [(hour + timedelta(seconds=10 * i), 52.5, 13.4) for i in range(10)])
    body, pieces = _body(city, hour)
    assert len(body["telemetry"]) == 10
    assert len(pieces) == 1 + 4 + 1  # the opening, ceil(10 / 3) fetches, the closing


# --- Through HTTP: /mds/telemetry ---------------------------------------------------------------------------------


def test_http_telemetry_is_streamed_and_audited(mds_client: Any, mds_city: Any, other_city: Any) -> None:
    from feeds.models import MdsPull

    hour, vehicle = past_hour(), VehicleFactory.create(city=mds_city)
    mds_data.readings(vehicle.id, [(hour + timedelta(seconds=i), 52.5, 13.4) for i in range(3)])
    mds_data.readings(VehicleFactory.create(city=other_city).id, [(hour, 48.85, 2.35)])

    r = mds_client.get("/mds/telemetry", {"telemetry_time": mds_data.hour_param(hour)})

    assert (r.status_code, r["Content-Type"], r.streaming) == (200, "application/vnd.mds+json;version=2.0", True)
    body = json.loads(b"".join(r.streaming_content))
    validate(body, "/telemetry")
    assert [p["device_id"] for p in body["telemetry"]] == [str(vehicle.id)] * 3
    assert mds_client.get(f"/mds/vehicles/{vehicle.id}").status_code == 200  # the device_id resolves
    pull = MdsPull.objects.filter(path="/mds/telemetry").get()
    assert (pull.status, pull.rows) == (200, 3)


def test_http_telemetry_without_its_hour_is_400(mds_client: Any, mds_city: Any) -> None:
    r = mds_client.get("/mds/telemetry")
    assert (r.status_code, r.json()["error"], r.json()["error_details"]) == (400, "missing_param", ["telemetry_time"])
