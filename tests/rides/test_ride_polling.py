"""Polling a ride cheaply: the light status (no track), ETag / If-None-Match -> 304 that every change an app cares
about changes, Retry-After while the ride waits for its vehicle, the track on its own URL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from rides import services
from rides.models import Ride, RideState
from tests.rides.conftest import START_URL, ack, started

pytestmark = pytest.mark.django_db


def url(ride: Any, action: str = "") -> str:
    return f"/api/v1/rides/{ride.id}" + (f"/{action}" if action else "")


def _changed(api: Any, ride: Any, etag: str) -> Any:
    """The ride's answer to a poll holding ``etag``: must be a 200 with a new tag."""
    r = api.get(url(ride), HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag, (r.status_code, r["ETag"], etag)
    return r


def test_every_change_an_app_sees_changes_the_etag_and_nothing_else_does(
        api, card_rider, vehicle, django_capture_on_commit_callbacks, django_assert_num_queries):
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    ride = Ride.objects.get(id=r.json()["id"])
    with django_assert_num_queries(2):  # the rider (token), the ride with vehicle, type, city and command states
        first = api.get(url(ride))
    body = first.json()
    assert (body["state"], body["command_pending"], body["unlock_command_state"], body["lock_command_state"]) == (
        "unlocking", True, "queued", None)
    assert "track" not in body and body["vehicle_type"] == "scooter" and body["receipt"] is None
    assert (first["Retry-After"], first["Cache-Control"]) == ("2", "private, no-cache")
    etag = first["ETag"]
    with django_assert_num_queries(2):
        again = api.get(url(ride), HTTP_IF_NONE_MATCH=etag)
    assert (again.status_code, again.content, again["ETag"], again["Retry-After"]) == (304, b"", etag, "2")
    assert api.get(url(ride), HTTP_IF_NONE_MATCH=f'"x", {etag}').status_code == 304  # a list of tags
    assert api.get(url(ride), HTTP_IF_NONE_MATCH="*").status_code == 304

    assert ride.unlock_command_id is not None
    fleet_services.command_deliver(command_id=ride.unlock_command_id)  # only the command's row changes
    r = _changed(api, ride, etag)
    assert r.json()["unlock_command_state"] == "sent"
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    r = _changed(api, ride, r["ETag"])
    assert (r.json()["state"], r.json()["command_pending"]) == ("active", False) and "Retry-After" not in r

    assert api.post(url(ride, "pause")).status_code == 200
    r = _changed(api, ride, r["ETag"])
    assert (r.json()["paused"], r.json()["lock_command_state"], r["Retry-After"]) == (True, "queued", "2")
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    r = _changed(api, ride, r["ETag"])
    assert (r.json()["paused"], r.json()["command_pending"]) == (True, False) and "Retry-After" not in r

    # A write outside the services (an UPDATE statement: the database bumps the version, not Python).
    Ride.objects.filter(id=ride.id).update(paused_seconds=90)
    r = _changed(api, ride, r["ETag"])
    assert r.json()["paused_seconds"] == 90
    Ride.objects.filter(id=ride.id).update(paused_seconds=90)  # the same value: the row did not change
    assert api.get(url(ride), HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    services.ride_track_append(vehicle_id=vehicle.id, at=timezone.now(), lat=52.52, lon=13.405)
    assert api.get(url(ride), HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304  # the status shows no track

    assert api.post(url(ride, "resume")).status_code == 200
    r = _changed(api, ride, r["ETag"])
    assert (r.json()["state"], r.json()["unlock_command_state"], r["Retry-After"]) == ("active", "queued", "2")
    assert api.post(url(ride, "end")).status_code == 202
    r = _changed(api, ride, r["ETag"])
    assert (r.json()["state"], r["Retry-After"]) == ("locking", "2") and r.json()["end_requested_at"]
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    r = _changed(api, ride, r["ETag"])
    assert r.json()["state"] == "ended" and r.json()["receipt"]["total"] and "Retry-After" not in r


def test_a_stale_instance_saved_whole_does_not_roll_the_version_back(api, card_rider, vehicle,
                                                                    django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    before = Ride.objects.values_list("version", flat=True).get(id=ride.id)
    stale = Ride.objects.get(id=ride.id)
    Ride.objects.filter(id=ride.id).update(pause_count=3)
    stale.end_note = "noted"
    stale.save()
    assert Ride.objects.values_list("version", "end_note", flat=False).get(id=ride.id) == (before + 2, "noted")


def test_the_track_has_its_own_url_and_etag_that_grows_with_the_ride(
        api, card_rider, other_rider, staff_user, vehicle, django_capture_on_commit_callbacks,
        django_assert_num_queries):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    r = api.get(url(ride, "track"))
    assert r.json() == {"ride_id": str(ride.id), "points": 0, "track": None}
    now = timezone.now()
    for i in range(3):
        services.ride_track_append(vehicle_id=vehicle.id, at=now + dt.timedelta(seconds=i), lat=52.52 + 0.001 * i,
                                   lon=13.405)
    with django_assert_num_queries(4):  # the rider (token), the ride, the points' count and newest time, the points
        r = api.get(url(ride, "track"), HTTP_IF_NONE_MATCH=r["ETag"])
    assert r.status_code == 200 and r.json()["points"] == 3 and r.json()["track"]["type"] == "LineString"
    assert r["Cache-Control"] == "private, no-cache"
    with django_assert_num_queries(3):  # unchanged: the points are not read
        assert api.get(url(ride, "track"), HTTP_IF_NONE_MATCH=r["ETag"]).status_code == 304
    miss = api.as_(other_rider).get(url(ride, "track"))
    assert (miss.status_code, miss.json()["error"]["code"]) == (404, "ride_not_found")
    assert api.as_(staff_user).get(url(ride, "track")).json()["points"] == 3  # support reads any ride


def test_the_detail_is_404_for_another_rider_and_readable_by_staff(api, card_rider, other_rider, staff_user,
                                                                  vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    r = api.as_(other_rider).get(url(ride))
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ride_not_found")
    assert api.as_(staff_user).get(url(ride)).json()["state"] == RideState.ACTIVE
