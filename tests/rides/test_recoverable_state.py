"""What an app that restarts reads back: its reservations, and the launch call (open ride + active reservation)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fleet.models import Vehicle
from rides import services
from rides.models import Reservation, Ride
from tests.fleet.factories import VehicleFactory
from tests.rides.conftest import START_URL, ack

pytestmark = pytest.mark.django_db
RES_URL = "/api/v1/reservations"
CURRENT_URL = "/api/v1/me/current"


def _reserve(api: Any, rider: Any, code: str) -> dict[str, Any]:
    r = api.as_(rider).post(RES_URL, {"code": code}, format="json")
    assert r.status_code == 201, r.json()
    return dict(r.json())


@pytest.fixture
def vehicles(city: Any, scooter: Any) -> list[Any]:
    return [VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FW1000{i}") for i in range(4)]


def test_a_reservation_reads_back_with_its_vehicle_while_active_and_why_it_closed(
        api, card_rider, other_rider, vehicle, django_capture_on_commit_callbacks):
    created = _reserve(api, card_rider, vehicle.code)
    vehicle.refresh_from_db()
    assert created["vehicle"] == {"id": str(vehicle.id), "code": vehicle.code, "type": "scooter",
                                  "form_factor": vehicle.vehicle_type.form_factor, "lat": vehicle.lat,
                                  "lon": vehicle.lon, "battery_pct": vehicle.battery_pct,
                                  "range_meters": vehicle.range_meters}
    assert (created["state"], created["close_reason"], created["ride_id"]) == ("active", None, None)
    r = api.get(f"{RES_URL}/{created['id']}")
    assert r.status_code == 200 and r.json() == created  # the create answer, read back
    assert r["Cache-Control"] == "private, no-cache" and r["ETag"].startswith('W/"')

    r = api.as_(other_rider).get(f"{RES_URL}/{created['id']}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "reservation_not_found")

    api.as_(card_rider).post(f"{RES_URL}/{created['id']}/cancel")
    body = api.get(f"{RES_URL}/{created['id']}").json()
    assert (body["state"], body["close_reason"], body["vehicle"]) == ("cancelled", "rider_cancelled", None)
    assert body["vehicle_code"] == vehicle.code and body["closed_at"] is not None

    lapsed = _reserve(api, card_rider, vehicle.code)
    assert services.reservations_expire(now=timezone.now() + dt.timedelta(hours=1)) == 1
    body = api.get(f"{RES_URL}/{lapsed['id']}").json()
    assert (body["state"], body["close_reason"], body["vehicle"]) == ("expired", "hold_expired", None)

    started = _reserve(api, card_rider, vehicle.code)
    ride_id = api.post(START_URL, {"reservation_id": started["id"]}, format="json").json()["id"]
    body = api.get(f"{RES_URL}/{started['id']}").json()
    assert (body["state"], body["close_reason"], body["ride_id"]) == ("converted", "ride_started", ride_id)


def test_the_list_is_newest_first_paginated_filtered_by_state_and_costs_the_same_for_any_page(
        api, card_rider, other_rider, vehicles, django_assert_num_queries):
    ids = []
    for vehicle in vehicles[:3]:
        ids.append(_reserve(api, card_rider, vehicle.code)["id"])
        api.post(f"{RES_URL}/{ids[-1]}/cancel")
    ids.append(_reserve(api, card_rider, vehicles[3].code)["id"])
    ride_id = api.post(START_URL, {"reservation_id": ids[-1]}, format="json").json()["id"]

    api.as_(card_rider)
    with django_assert_num_queries(2):  # the rider (token), the page with vehicles, types and rides joined
        page = api.get(f"{RES_URL}?page_size=2").json()
    assert [item["id"] for item in page["results"]] == ids[::-1][:2]
    assert page["results"][0]["ride_id"] == ride_id and page["results"][1]["close_reason"] == "rider_cancelled"
    with django_assert_num_queries(2):
        rest = api.get(page["next"]).json()
    assert [item["id"] for item in rest["results"]] == ids[::-1][2:] and rest["next"] is None

    converted = api.get(f"{RES_URL}?state=converted").json()["results"]
    assert [item["id"] for item in converted] == [ids[-1]]
    assert api.get(f"{RES_URL}?state=active").json()["results"] == []
    r = api.get(f"{RES_URL}?state=lapsed")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_error")
    assert api.as_(other_rider).get(RES_URL).json()["results"] == []


def test_a_reservation_etag_changes_with_its_state_and_its_vehicle_while_active(api, card_rider, vehicle):
    created = _reserve(api, card_rider, vehicle.code)
    url = f"{RES_URL}/{created['id']}"
    etag = api.get(url)["ETag"]
    r = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert (r.status_code, r.content, r["ETag"], r["Cache-Control"]) == (304, b"", etag, "private, no-cache")
    Vehicle.objects.filter(id=vehicle.id).update(battery_pct=40)  # telemetry: the app shows the battery
    moved = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and moved.json()["vehicle"]["battery_pct"] == 40 and moved["ETag"] != etag
    api.post(f"{url}/cancel")
    cancelled = api.get(url, HTTP_IF_NONE_MATCH=moved["ETag"])
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    Vehicle.objects.filter(id=vehicle.id).update(battery_pct=30)  # not shown once closed: no change
    assert api.get(url, HTTP_IF_NONE_MATCH=cancelled["ETag"]).status_code == 304


def test_launch_call_returns_the_active_reservation_then_the_open_ride_in_two_queries(
        api, card_rider, vehicle, django_capture_on_commit_callbacks, django_assert_num_queries):
    api.as_(card_rider)
    r = api.get(CURRENT_URL)
    assert (r.status_code, r.json()) == (200, {"ride": None, "reservation": None})
    empty = r["ETag"]
    assert api.get(CURRENT_URL, HTTP_IF_NONE_MATCH=empty).status_code == 304

    reservation = _reserve(api, card_rider, vehicle.code)
    with django_assert_num_queries(3):  # the rider (token), the open ride, the active reservation
        r = api.get(CURRENT_URL, HTTP_IF_NONE_MATCH=empty)
    assert r.status_code == 200 and r.json() == {"ride": None, "reservation": reservation}
    assert "Retry-After" not in r

    ride_id = api.post(START_URL, {"reservation_id": reservation["id"]}, format="json").json()["id"]
    with django_assert_num_queries(3):
        r = api.get(CURRENT_URL)
    body = r.json()
    assert body["reservation"] is None and body["ride"]["id"] == ride_id
    assert (body["ride"]["state"], body["ride"]["command_pending"], body["ride"]["unlock_command_state"]) == (
        "unlocking", True, "queued")
    assert body["ride"]["vehicle_code"] == vehicle.code and "track" not in body["ride"]
    assert r["Retry-After"] == "2"  # waiting for the vehicle: poll again soon (or follow the ride socket)
    unlocking = r["ETag"]
    assert api.get(CURRENT_URL, HTTP_IF_NONE_MATCH=unlocking).status_code == 304

    ack(Ride.objects.get(id=ride_id).unlock_command_id, django_capture_on_commit_callbacks)
    r = api.get(CURRENT_URL, HTTP_IF_NONE_MATCH=unlocking)
    assert r.status_code == 200 and r.json()["ride"]["state"] == "active" and "Retry-After" not in r
    assert r.json()["ride"]["command_pending"] is False and r.json()["ride"]["unlock_command_state"] == "acked"


def test_launch_call_never_shows_another_riders_things(api, card_rider, other_rider, vehicle):
    _reserve(api, card_rider, vehicle.code)
    assert api.as_(other_rider).get(CURRENT_URL).json() == {"ride": None, "reservation": None}
    assert Reservation.objects.filter(rider=card_rider, state="active").exists()
