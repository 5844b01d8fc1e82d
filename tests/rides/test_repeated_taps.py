"""A repeated end, pause or resume answers the ride as it is (as a retry would), not 409; idempotency keys still
replay their first answer; another rider's ride stays 404."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.models import Command
from rides.models import Ride, RideState
from tests.rides.conftest import ack, photo, started

pytestmark = pytest.mark.django_db


def url(ride: Any, action: str) -> str:
    return f"/api/v1/rides/{ride.id}/{action}"


def _locks(vehicle: Any) -> int:
    return Command.objects.filter(vehicle=vehicle, kind="lock").count()


def test_a_second_end_answers_202_while_locking_and_200_once_ended(
        api, card_rider, other_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    first = api.post(url(ride, "end"))
    assert (first.status_code, first.json()["state"]) == (202, "locking")
    again = api.post(url(ride, "end"), {"photo": photo()}, format="multipart")
    assert (again.status_code, again.json()) == (202, first.json())  # the same ride; its photo is not stored
    assert _locks(vehicle) == 1 and not Ride.objects.get(id=ride.id).parking_photo

    miss = api.as_(other_rider).post(url(ride, "end"))
    assert (miss.status_code, miss.json()["error"]["code"]) == (404, "ride_not_found")

    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    ended = api.as_(card_rider).post(url(ride, "end"))
    assert (ended.status_code, ended.json()["state"]) == (200, "ended")
    assert ended.json()["fare_total"] is not None and _locks(vehicle) == 1
    assert api.post(url(ride, "pause")).json()["error"]["code"] == "ride_state_conflict"  # ended: no pause


def test_an_end_whose_lock_failed_is_a_new_request(api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    assert api.post(url(ride, "end")).status_code == 202
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks, ok=False)  # the vehicle did not lock
    assert Ride.objects.get(id=ride.id).state == RideState.ACTIVE
    r = api.post(url(ride, "end"))
    assert (r.status_code, r.json()["state"]) == (202, "locking") and _locks(vehicle) == 2  # a fresh lock


def test_an_idempotency_key_replays_the_first_answer_and_a_new_key_sees_the_ride_as_it_is(
        api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    first = api.post(url(ride, "end"), HTTP_IDEMPOTENCY_KEY="end-1")
    assert first.status_code == 202
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    replay = api.post(url(ride, "end"), HTTP_IDEMPOTENCY_KEY="end-1")
    assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (202, first.json(), "true")
    fresh = api.post(url(ride, "end"), HTTP_IDEMPOTENCY_KEY="end-2")
    assert (fresh.status_code, fresh.json()["state"]) == (200, "ended")


def test_repeated_pause_and_resume_answer_the_ride_as_it_is_with_no_second_command(
        api, card_rider, other_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    resumed = api.post(url(ride, "resume"))  # active already
    assert (resumed.status_code, resumed.json()["state"]) == (200, "active")
    assert [api.post(url(ride, "pause")).json()["pause_count"] for _ in range(2)] == [1, 1]
    assert [api.post(url(ride, "resume")).json()["state"] for _ in range(2)] == ["active", "active"]
    assert list(Command.objects.filter(vehicle=vehicle).order_by("created_at").values_list("kind", flat=True)) == [
        "unlock", "lock", "unlock"]
    miss = api.as_(other_rider).post(url(ride, "pause"))
    assert (miss.status_code, miss.json()["error"]["code"]) == (404, "ride_not_found")
