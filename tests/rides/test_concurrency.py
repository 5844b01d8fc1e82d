"""Real concurrency on PostgreSQL: threads with their own connections, committed transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from django.db import connection

from billing.models import LedgerTransaction, Payment, RideBilling
from config.celery import app as celery_app
from fleet import services as fleet_services
from fleet.models import Command
from rides.models import Ride, RideState
from tests.accounts.factories import UserFactory
from tests.conftest import Api
from tests.rides.conftest import START_URL, add_card

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    # Commits are real here, so on_commit tasks run: deliver commands in-process (the silent gateway).
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def race(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the calls at the same instant, each in its own thread and database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = calls[i]()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _ack(command_id: Any) -> None:
    fleet_services.command_ack(command_id=command_id, ok=True)  # commits: the rides hook runs after commit


def test_twenty_riders_race_for_one_vehicle_exactly_one_wins(vehicle):
    riders = [UserFactory() for _ in range(20)]
    for rider in riders:
        add_card(rider)
    calls = [lambda r=r: Api().as_(r).post(START_URL, {"code": vehicle.code}, format="json") for r in riders]
    responses = race(calls)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"vehicle_unavailable"}
    assert Ride.objects.count() == 1 and RideBilling.objects.count() == 1
    assert Payment.objects.filter(purpose=Payment.Purpose.RIDE_HOLD).count() == 1


def test_double_tap_on_end_ends_once_and_charges_once(card_rider, vehicle):
    api = Api().as_(card_rider)
    ride = Ride.objects.get(id=api.post(START_URL, {"code": vehicle.code}, format="json").json()["id"])
    _ack(ride.unlock_command_id)
    assert Ride.objects.get(id=ride.id).state == RideState.ACTIVE
    url = f"/api/v1/rides/{ride.id}/end"
    responses = race([lambda: Api().as_(card_rider).post(url), lambda: Api().as_(card_rider).post(url)])
    # The second tap waits for the first's row locks, then finds the ride locking: it answers as a retry would.
    assert [r.status_code for r in responses] == [202, 202]
    assert {(r.json()["state"], r.json()["id"]) for r in responses} == {("locking", str(ride.id))}
    assert Command.objects.filter(vehicle=vehicle, kind="lock", idempotency_key__startswith=f"ride:{ride.id}:end:") \
        .count() == 1
    ride.refresh_from_db()
    race([lambda: _ack(ride.lock_command_id), lambda: _ack(ride.lock_command_id)])  # a duplicated answer too
    ride.refresh_from_db()
    assert ride.state == RideState.ENDED
    late = Api().as_(card_rider).post(url)  # a third tap once the lock is confirmed
    assert (late.status_code, late.json()["state"]) == (200, "ended")
    billing = RideBilling.objects.get(ride_id=ride.id)
    assert billing.status == RideBilling.Status.CHARGED
    assert LedgerTransaction.objects.filter(kind="ride_charge", ride_id=ride.id).count() == 1
    captured = Payment.objects.filter(ride_id=ride.id, status=Payment.Status.CAPTURED)
    assert sum(p.amount_captured for p in captured) == ride.fare_total


def test_start_retried_with_the_same_key_returns_the_same_ride_and_one_hold(card_rider, vehicle):
    first = Api().as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json",
                                 HTTP_IDEMPOTENCY_KEY="start-7f3a")
    # the phone timed out and retries, twice at once
    retries = race([lambda: Api().as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json",
                                                       HTTP_IDEMPOTENCY_KEY="start-7f3a") for _ in range(2)])
    assert first.status_code == 201
    for retry in retries:
        assert (retry.status_code, retry.json()["id"]) == (201, first.json()["id"])
        assert retry["Idempotent-Replayed"] == "true"
    assert Ride.objects.count() == 1 and RideBilling.objects.count() == 1
    assert Payment.objects.filter(purpose=Payment.Purpose.RIDE_HOLD).count() == 1


def test_concurrent_first_attempts_with_one_key_start_one_ride(card_rider, vehicle):
    responses = race([lambda: Api().as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json",
                                                         HTTP_IDEMPOTENCY_KEY="start-same") for _ in range(3)])
    assert 201 in [r.status_code for r in responses]
    assert {r.status_code for r in responses} <= {201, 409}
    assert Ride.objects.count() == 1 and Payment.objects.filter(purpose=Payment.Purpose.RIDE_HOLD).count() == 1
