from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import RideBilling
from fleet import grid
from fleet.models import Command, CommandState, Vehicle, VehicleEvent
from fleet.selectors import zones as zone_selectors
from fleet.states import Status
from rides import services
from rides.models import CityRideSettings, Ride, RideState
from tests.fleet.factories import ZoneFactory, square
from tests.rides.conftest import START_URL, ack, commands, photo, started

pytestmark = pytest.mark.django_db


def url(ride: Ride, action: str = "") -> str:
    return f"/api/v1/rides/{ride.id}" + (f"/{action}" if action else "")


def _move(vehicle: Any, lat: float, lon: float) -> None:
    Vehicle.objects.filter(id=vehicle.id).update(lat=lat, lon=lon, cell=grid.cell_of(lat, lon))


def _end(api: Any, ride: Ride, capture: Any, **data: Any) -> Ride:
    r = api.post(url(ride, "end"), data, format="multipart")
    assert r.status_code == 202, r.json()
    assert r.json()["state"] == "locking"
    ride.refresh_from_db()
    ack(ride.lock_command_id, capture)
    ride.refresh_from_db()
    return ride


def test_full_journey_pause_resume_end_charges_the_fare_once(api, card_rider, vehicle,
                                                            django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    Ride.objects.filter(id=ride.id).update(started_at=timezone.now() - dt.timedelta(minutes=10))
    assert api.as_(card_rider).post(url(ride, "pause")).json()["state"] == "paused"
    r = api.post(url(ride, "pause"))  # a repeated tap: the paused ride as it is, no second lock
    assert (r.status_code, r.json()["state"], r.json()["pause_count"]) == (200, "paused", 1)
    Ride.objects.filter(id=ride.id).update(paused_at=timezone.now() - dt.timedelta(minutes=2))
    assert api.post(url(ride, "resume")).json()["state"] == "active"
    for i in range(3):
        services.ride_track_append(vehicle_id=vehicle.id, at=timezone.now() + dt.timedelta(seconds=i),
                                   lat=52.52 + 0.001 * i, lon=13.405)
    ride = _end(api, ride, django_capture_on_commit_callbacks)
    assert ride.state == RideState.ENDED and ride.end_reason == "rider"
    assert ride.distance_m is not None and ride.duration_s is not None and ride.fare_total is not None
    assert 215 <= ride.distance_m <= 230  # two 111 m steps north
    assert 119 <= ride.paused_seconds <= 125 and 599 <= ride.duration_s <= 605
    # 1.00 unlock + 8 riding minutes x 0.25 + 2 pause minutes x 0.10 (started minutes)
    assert Decimal("3.20") <= ride.fare_total <= Decimal("3.55")
    billing = RideBilling.objects.get(ride_id=ride.id)
    assert (billing.status, billing.fare_total) == (RideBilling.Status.CHARGED, ride.fare_total)
    assert commands(vehicle) == ["unlock", "lock", "unlock", "lock"]
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE and vehicle.trip_id is None
    assert "trip_end" in VehicleEvent.objects.filter(vehicle=vehicle).latest("recorded_at").event_types


def test_detail_has_receipt_and_mds_trip_and_the_track_its_own_url(api, card_rider, vehicle,
                                                         django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    now = timezone.now()
    points = [(52.52, 13.405), (52.5201, 13.405), (52.5202, 13.405), (52.5202, 13.407)]  # 3 collinear first
    for i, (lat, lon) in enumerate(points):
        services.ride_track_append(vehicle_id=vehicle.id, at=now + dt.timedelta(seconds=i), lat=lat, lon=lon)
    services.ride_track_append(vehicle_id=vehicle.id, at=now, lat=52.52, lon=13.405)  # redelivered: ignored
    ride = _end(api, ride, django_capture_on_commit_callbacks, photo=photo("p.jpg"))
    body = api.get(url(ride)).json()
    assert "track" not in body  # the detail is the light status; the track has its own URL
    track = api.get(url(ride, "track")).json()
    assert track == {"ride_id": str(ride.id), "points": 4, "track": {
        "type": "LineString", "coordinates": [[13.405, 52.52], [13.405, 52.5202], [13.407, 52.5202]]}}
    assert {line["kind"] for line in body["receipt"]["lines"]} >= {"unlock"}
    trip = body["trip"]
    assert trip["trip_id"] == str(ride.id) and trip["distance"] == ride.distance_m
    assert trip["end_location"] == {"lat": ride.end_lat, "lng": ride.end_lon}  # an MDS GPS object
    assert trip["parking_verification_url"].endswith(".jpg") and trip["duration"] == ride.duration_s


def test_end_refused_outside_area_and_in_no_parking_zone_with_nearest_allowed(
        api, card_rider, vehicle, city, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    _move(vehicle, 51.5, 13.5)  # south of the operating area (52-53 N)
    r = api.post(url(ride, "end"))
    error = r.json()["error"]
    assert (r.status_code, error["code"]) == (422, "end_outside_operating_area")
    assert abs(error["details"]["nearest_allowed"]["lat"] - 52.0) < 0.001
    ZoneFactory.create(city=city, kind="no_parking", priority=1, geometry=square(13.40, 52.51, 0.02),
                       ride_end_allowed=False)
    zone_selectors.clear_geofence_cache()  # the per-process cache re-checks the zone version once a second
    _move(vehicle, 52.52, 13.41)
    r = api.post(url(ride, "end"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "end_in_no_parking_zone")
    assert r.json()["error"]["details"]["nearest_allowed"]["distance_m"] > 0
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and commands(vehicle) == ["unlock"]


def test_photo_required_where_the_city_says_so(api, card_rider, vehicle, city, django_capture_on_commit_callbacks):
    CityRideSettings.objects.create(city=city, parking_photo_required=True)
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    r = api.post(url(ride, "end"))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "parking_photo_required")
    ride = _end(api, ride, django_capture_on_commit_callbacks, photo=photo("my-street.jpg"))
    assert ride.state == RideState.ENDED and str(ride.parking_photo.name).endswith(".jpg")
    assert "my-street" not in str(ride.parking_photo.name)  # stored under a random name


def test_refused_lock_keeps_the_ride_going(api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    api.post(url(ride, "end"))
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks, ok=False)
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and not RideBilling.objects.filter(
        ride_id=ride.id, status=RideBilling.Status.CHARGED).exists()


def test_force_end_needs_the_permission_and_ends_at_once(api, card_rider, vehicle, staff_user,
                                                         django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    r = api.as_(card_rider).post(url(ride, "force-end"), {"reason": "lost phone"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and ride.ended_at is None and not RideBilling.objects.filter(
        ride_id=ride.id, status=RideBilling.Status.CHARGED).exists()
    r = api.as_(staff_user).post(url(ride, "force-end"), {"reason": "lost phone"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "ended" and r.json()["end_reason"] == "ops"
    ride.refresh_from_db()
    assert ride.end_note == "lost phone" and ride.ended_by == staff_user
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED


def test_auto_end_of_a_stale_paused_ride(api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    api.post(url(ride, "pause"))
    assert services.rides_auto_end() == 0
    Ride.objects.filter(id=ride.id).update(paused_at=timezone.now() - dt.timedelta(hours=2))
    assert services.rides_auto_end() == 1
    ride.refresh_from_db()
    assert (ride.state, ride.end_reason) == (RideState.ENDED, "auto_stale")


def test_history_is_cursor_paginated_and_rating_and_problem_report(
        api, card_rider, vehicle, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    r = api.post(url(ride, "rating"), {"stars": 5}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ride_state_conflict")
    ride = _end(api, ride, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(6):
        page = api.get("/api/v1/rides?page_size=1").json()
    assert [x["id"] for x in page["results"]] == [str(ride.id)] and "next" in page
    assert api.post(url(ride, "rating"), {"stars": 5}, format="json").status_code == 201
    assert api.post(url(ride, "rating"), {"stars": 4}, format="json").json()["error"]["code"] == "ride_already_rated"
    r = api.post(url(ride, "problems"), {"category": "brakes", "photo": photo("b.jpg")},
                 format="multipart")
    assert r.status_code == 201, r.json()
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE


def test_a_pause_the_vehicle_refuses_puts_the_ride_back_to_active(api, card_rider, vehicle,
                                                                 django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    api.post(url(ride, "pause"))
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks, ok=False)
    ride.refresh_from_db()
    assert (ride.state, ride.paused_at) == (RideState.ACTIVE, None)


def test_the_pending_charge_sweep_charges_a_ride_whose_process_died_before_charging(
        api, card_rider, vehicle, monkeypatch, django_capture_on_commit_callbacks):
    from rides.services import finish

    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    Ride.objects.filter(id=ride.id).update(started_at=timezone.now() - dt.timedelta(minutes=5))
    with monkeypatch.context() as patched:
        patched.setattr(finish, "ride_charge", lambda *, ride: None)  # the process dies after the ride ended
        ride = _end(api.as_(card_rider), ride, django_capture_on_commit_callbacks)
    assert ride.state == RideState.ENDED
    assert RideBilling.objects.get(ride_id=ride.id).status != RideBilling.Status.CHARGED

    assert services.rides_charge_pending() == 0  # just ended: left to the process that ended it
    settled = timezone.now() + dt.timedelta(seconds=31)
    assert services.rides_charge_pending(now=settled) == 1
    billing = RideBilling.objects.get(ride_id=ride.id)
    assert (billing.status, billing.fare_total) == (RideBilling.Status.CHARGED, ride.fare_total)
    assert services.rides_charge_pending(now=settled) == 0


def test_force_end_of_a_ride_still_unlocking_withdraws_its_unlock(api, card_rider, vehicle, staff_user):
    """Ops cancel a start whose unlock is open: the unlock is cancelled (never sent), nothing is charged."""
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    ride = Ride.objects.get(id=r.json()["id"])
    assert ride.state == RideState.UNLOCKING and ride.unlock_command_id is not None
    r = api.as_(staff_user).post(url(ride, "force-end"), {"reason": "rider walked away"}, format="json")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    unlock = Command.objects.get(id=ride.unlock_command_id)
    assert unlock.state == CommandState.CANCELLED and unlock.failure_reason.startswith("ride cancelled")
    assert not Command.objects.filter(idempotency_key=f"{unlock.id}:relock").exists()  # it never reached the unit
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.RELEASED
