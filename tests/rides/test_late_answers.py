"""A vehicle's answer that arrives after every timeout still counts: its truth wins, by the command's purpose.

The answers travel as in production: a telemetry message posted to ``/api/v1/telemetry``, applied by the batch
worker (``pipeline.drain_until_empty``); the timeouts are the command expiry sweep (``commands_expire_overdue``)
at a time past the ack deadline. The simulated gateway is silent (tests/rides/conftest.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from billing.models import LedgerTransaction, RideBilling
from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState, Vehicle
from fleet.states import Status
from rides import services
from rides.models import Ride, RideState
from telemetry import pipeline, storage
from tests.rides.conftest import START_URL, started
from tests.telemetry.conftest import URL, auth, message

pytestmark = pytest.mark.django_db
LATE = dt.timedelta(minutes=5)  # past the ack deadline and every TTL


@pytest.fixture(autouse=True)
def _pipeline_state() -> Iterator[None]:
    storage._known.clear()  # partitions created in a rolled-back test transaction are gone
    yield
    storage._known.clear()


@pytest.fixture
def secret(vehicle: Any) -> str:
    return fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)


class Unit:
    """The vehicle's IoT unit: answers through telemetry, with its own message sequence."""

    def __init__(self, vehicle: Any, secret: str, capture: Any) -> None:
        self.vehicle, self.secret, self.capture, self.seq = vehicle, secret, capture, 0

    def answer(self, command_id: Any, *, ok: bool = True, **fields: Any) -> None:
        correlation = Command.objects.get(id=command_id).correlation_id
        self.seq += 1
        body = message(self.seq, ack={"correlation_id": str(correlation), "ok": ok}, speed_kph=0, **fields)
        r = Client().post(URL, data=body, content_type="application/json", **auth(self.vehicle, self.secret))
        assert r.status_code == 202, r.content
        with self.capture(execute=True):  # the batch's after-commit work: command_closed -> the ride
            pipeline.drain_until_empty()


def _time_out(capture: Any) -> None:
    with capture(execute=True):
        fleet_services.commands_expire_overdue(now=timezone.now() + LATE)


def _sent(command_id: Any) -> Command:
    return fleet_services.command_deliver(command_id=command_id)


def _billing(ride: Ride) -> tuple[Any, ...]:
    billing = RideBilling.objects.get(ride_id=ride.id)
    return (billing.status, billing.fare_total, billing.paid_card, billing.debt,
            LedgerTransaction.objects.filter(ride_id=ride.id).count())


@pytest.fixture
def unit(vehicle: Any, secret: str, django_capture_on_commit_callbacks: Any) -> Unit:
    return Unit(vehicle, secret, django_capture_on_commit_callbacks)


def _riding(api: Any, rider: Any, vehicle: Any, capture: Any) -> Ride:
    ride = started(api, rider, vehicle.code, capture)
    Ride.objects.filter(id=ride.id).update(started_at=timezone.now() - dt.timedelta(minutes=10))
    ride.refresh_from_db()
    return ride


def test_a_lock_answered_after_its_timeout_ends_the_ride_billed_to_the_request_and_charged_once(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ride = _riding(api, card_rider, vehicle, capture)
    assert api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/end", format="multipart").status_code == 202
    ride.refresh_from_db()
    lock = _sent(ride.lock_command_id)
    requested = ride.end_requested_at
    _time_out(capture)  # the batch with the ack is stuck past the deadline: the ride goes on
    ride.refresh_from_db()
    assert (ride.state, ride.end_requested_at, Command.objects.get(id=lock.id).state) == (
        RideState.ACTIVE, None, CommandState.TIMED_OUT)

    unit.answer(lock.id, locked=True)

    ride.refresh_from_db()
    assert (ride.state, ride.end_reason) == (RideState.ENDED, "rider")
    assert ride.ended_at is not None and requested is not None
    assert abs((ride.ended_at - requested).total_seconds()) < 1  # billed to the end request, not the late answer
    assert ride.end_requested_at == ride.ended_at and 599 <= (ride.duration_s or 0) <= 601
    assert Command.objects.get(id=lock.id).state == CommandState.ACKED
    charged = _billing(ride)
    assert charged[:2] == (RideBilling.Status.CHARGED, ride.fare_total)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id, vehicle.locked) == (Status.AVAILABLE, None, True)

    unit.seq -= 1
    unit.answer(lock.id, locked=True)  # the same message again (a retransmission)
    unit.answer(lock.id, locked=True)  # and the answer replayed in a new message
    with capture(execute=True):
        services.rides_sweep_commands()
        services.rides_charge_pending()
    ended = Ride.objects.get(id=ride.id)
    assert (ended.state, ended.ended_at, ended.fare_total) == (RideState.ENDED, ride.ended_at, ride.fare_total)
    assert _billing(ride) == charged


def test_a_late_pause_lock_after_the_rider_resumed_does_not_end_the_ride(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ride = _riding(api, card_rider, vehicle, capture)
    assert api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/pause").json()["state"] == "paused"
    ride.refresh_from_db()
    pause_lock = _sent(ride.lock_command_id)
    _time_out(capture)  # the pause's lock "failed": the ride is active again
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE

    unit.answer(pause_lock.id, locked=True)

    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and ride.ended_at is None
    assert RideBilling.objects.get(ride_id=ride.id).status != RideBilling.Status.CHARGED


def test_a_late_pause_lock_after_a_resume_does_not_end_the_ride(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ride = _riding(api, card_rider, vehicle, capture)
    api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/pause")
    ride.refresh_from_db()
    pause_lock = _sent(ride.lock_command_id)
    assert api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/resume").json()["state"] == "active"
    ride.refresh_from_db()
    unlock = _sent(ride.unlock_command_id)
    _time_out(capture)  # neither answered in time

    unit.answer(pause_lock.id, locked=True)  # the pause's lock, late
    unit.answer(unlock.id, locked=False)  # then the resume's unlock: the rider rides on

    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and ride.ended_at is None
    assert Command.objects.get(id=pause_lock.id).state == CommandState.ACKED
    assert RideBilling.objects.get(ride_id=ride.id).status != RideBilling.Status.CHARGED
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.locked) == (Status.ON_TRIP, False)


def test_an_end_requested_again_after_its_lock_timed_out_sends_a_fresh_lock(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ride = _riding(api, card_rider, vehicle, capture)
    end = f"/api/v1/rides/{ride.id}/end"
    api.as_(card_rider).post(end, format="multipart")
    ride.refresh_from_db()
    first = _sent(ride.lock_command_id)
    _time_out(capture)
    assert api.as_(card_rider).post(end, format="multipart").json()["state"] == "locking"
    ride.refresh_from_db()
    assert ride.lock_command_id != first.id  # the old key returned the dead command: nothing was sent again
    second = _sent(ride.lock_command_id)
    assert second.state == CommandState.SENT
    unit.answer(second.id, locked=True)
    ride.refresh_from_db()
    assert ride.state == RideState.ENDED
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED


def test_a_late_unlock_of_a_cancelled_start_relocks_the_vehicle_and_bills_nothing(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    ride = Ride.objects.get(id=r.json()["id"])
    unlock = _sent(ride.unlock_command_id)
    _time_out(capture)  # no answer in time: the start is cancelled, the hold released
    ride.refresh_from_db()
    assert (ride.state, ride.cancel_reason) == (RideState.CANCELLED, "unlock_timed_out")

    unit.answer(unlock.id, locked=False)

    relock = Command.objects.get(idempotency_key=f"ride:{ride.id}:relock")
    assert (relock.kind, relock.vehicle_id) == (CommandKind.LOCK, vehicle.id)
    unit.seq -= 1
    unit.answer(unlock.id, locked=False)  # replayed: one re-lock
    assert Command.objects.filter(vehicle=vehicle, kind=CommandKind.LOCK).count() == 1
    ride.refresh_from_db()
    assert ride.state == RideState.CANCELLED
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.RELEASED
    assert not LedgerTransaction.objects.filter(ride_id=ride.id).exists()
    _sent(relock.id)
    unit.answer(relock.id, locked=True)
    vehicle.refresh_from_db()
    assert (vehicle.locked, vehicle.status) == (True, Status.AVAILABLE)
    assert Vehicle.objects.get(id=vehicle.id).trip_id is None


def test_the_command_sweep_applies_late_answers_whose_announcement_was_lost(
        api, card_rider, other_rider, city, scooter, vehicle, django_capture_on_commit_callbacks):
    """The worker died after the batch committed, before its after-commit work: the beat sweep finds both cases."""
    from tests.fleet.factories import VehicleFactory
    from tests.rides.conftest import add_card

    capture = django_capture_on_commit_callbacks
    first = Vehicle.objects.get(code="FW00001")
    ride = _riding(api, card_rider, first, capture)
    api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/end", format="multipart")
    ride.refresh_from_db()
    lock = _sent(ride.lock_command_id)
    second = VehicleFactory.create(city=city, vehicle_type=scooter, code="FW00002")
    add_card(other_rider)
    r = api.as_(other_rider).post(START_URL, {"code": second.code}, format="json")
    cancelled = Ride.objects.get(id=r.json()["id"])
    unlock = _sent(cancelled.unlock_command_id)
    _time_out(capture)

    fleet_services.command_ack(command_id=lock.id, ok=True)  # committed, announcement lost (not executed)
    fleet_services.command_ack(command_id=unlock.id, ok=True)
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE

    with capture(execute=True):
        assert services.rides_sweep_commands() == 2
    ride.refresh_from_db()
    assert ride.state == RideState.ENDED and RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED
    assert Command.objects.filter(idempotency_key=f"ride:{cancelled.id}:relock", vehicle=second).exists()
    with capture(execute=True):
        assert services.rides_sweep_commands() == 0


def _ending(api: Any, rider: Any, vehicle: Any, capture: Any) -> tuple[Ride, Command]:
    ride = _riding(api, rider, vehicle, capture)
    assert api.as_(rider).post(f"/api/v1/rides/{ride.id}/end", format="multipart").status_code == 202
    ride.refresh_from_db()
    return ride, _sent(ride.lock_command_id)


def _report(unit: Unit, **fields: Any) -> None:
    """A plain reading (no answer to a command), applied by the batch worker."""
    unit.seq += 1
    r = Client().post(URL, data=message(unit.seq, **fields), content_type="application/json",
                      **auth(unit.vehicle, unit.secret))
    assert r.status_code == 202, r.content
    with unit.capture(execute=True):
        pipeline.drain_until_empty()


def test_telemetry_saying_locked_and_still_ends_a_locking_ride_without_its_answer(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    ride, lock = _ending(api, card_rider, vehicle, capture)
    _report(unit, locked=True, speed_kph=0)  # the lock's answer itself is lost

    ride.refresh_from_db()
    assert ride.state == RideState.ENDED and ride.ended_at is not None and ride.end_requested_at is not None
    assert ride.ended_at >= ride.end_requested_at
    charged = _billing(ride)
    assert charged[:2] == (RideBilling.Status.CHARGED, ride.fare_total)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.AVAILABLE, None)

    unit.answer(lock.id, locked=True)  # the answer after all: nothing more
    _time_out(capture)
    ended = Ride.objects.get(id=ride.id)
    assert (ended.ended_at, ended.fare_total) == (ride.ended_at, ride.fare_total) and _billing(ride) == charged


@pytest.mark.parametrize("fields", [
    {"locked": True, "speed_kph": 14},  # locked, says the unit, yet it moves
    {"locked": False, "speed_kph": 0},
    {"speed_kph": 0},  # says nothing about the lock
    {"locked": True, "speed_kph": 0, "ts": int((timezone.now() - dt.timedelta(minutes=1)).timestamp() * 1000)},
])
def test_telemetry_that_does_not_show_the_end_locked_leaves_the_ride_locking(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks, fields):
    ride, _ = _ending(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _report(unit, **fields)
    ride.refresh_from_db()
    assert ride.state == RideState.LOCKING


def test_telemetry_saying_locked_leaves_a_paused_ride_paused(
        api, card_rider, vehicle, unit, django_capture_on_commit_callbacks):
    ride = _riding(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/pause")
    _report(unit, locked=True, speed_kph=0)
    ride.refresh_from_db()
    assert ride.state == RideState.PAUSED


def test_a_stalled_batch_of_lock_answers_ends_every_ride_once(
        api, city, scooter, django_capture_on_commit_callbacks):
    """The issue's fault: riders end, the batch with their vehicles' answers is applied only after every lock
    timed out (a killed batch worker, reclaimed later): each ride ends at its request and is charged once."""
    from tests.accounts.factories import UserFactory
    from tests.fleet.factories import VehicleFactory
    from tests.rides.conftest import add_card

    capture = django_capture_on_commit_callbacks
    units, rides = [], []
    for i in range(4):
        vehicle = VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FW1000{i}")
        rider = UserFactory.create()
        add_card(rider)
        ride = _riding(api, rider, vehicle, capture)
        assert api.as_(rider).post(f"/api/v1/rides/{ride.id}/end", format="multipart").status_code == 202
        ride.refresh_from_db()
        units.append(Unit(vehicle, fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id), capture))
        rides.append((ride, _sent(ride.lock_command_id), ride.end_requested_at))
    _time_out(capture)
    assert set(Ride.objects.filter(id__in=[r.id for r, _, _ in rides]).values_list("state", flat=True)) == {"active"}

    for unit, (_, lock, _) in zip(units, rides, strict=True):  # queued in the streams, not applied yet
        correlation = Command.objects.get(id=lock.id).correlation_id
        body = message(1, ack={"correlation_id": str(correlation), "ok": True}, locked=True, speed_kph=0)
        assert Client().post(URL, data=body, content_type="application/json",
                             **auth(unit.vehicle, unit.secret)).status_code == 202
    with capture(execute=True):
        pipeline.drain_until_empty()

    for ride, _, requested in rides:
        ride.refresh_from_db()
        assert ride.state == RideState.ENDED and ride.ended_at is not None and requested is not None
        assert abs((ride.ended_at - requested).total_seconds()) < 1
        assert _billing(ride)[:2] == (RideBilling.Status.CHARGED, ride.fare_total)
        assert LedgerTransaction.objects.filter(ride_id=ride.id, kind="ride_charge").count() == 1
