"""The start's money step: the hold is placed after the claim commits, outside any transaction; a refusal undoes
the claim; a start that stopped half-way is finished by the retry or cancelled by the sweep."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest

from billing.models import Payment, RideBilling
from billing.services import methods
from billing.services import rides as billing_rides
from fleet.models import Command, VehicleEvent
from fleet.states import Status
from rides import services
from rides.models import Ride, RideState
from tests.rides.conftest import START_URL, commands

pytestmark = pytest.mark.django_db


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def _events(vehicle: Any) -> list[list[str]]:
    return [e.event_types for e in VehicleEvent.objects.filter(vehicle=vehicle).order_by("recorded_at")]


def test_a_declined_hold_cancels_the_ride_frees_the_vehicle_and_sends_no_unlock(api, rider, vehicle):
    methods.payment_method_add(user=rider, token="tok_chargeDeclined")
    r = api.as_(rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert _code(r) == (422, "payment_declined")
    ride = Ride.objects.get(vehicle=vehicle)
    assert (ride.state, ride.cancel_reason, ride.unlock_command_id) == (RideState.CANCELLED, "payment_declined", None)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.AVAILABLE, None)
    assert _events(vehicle)[-2:] == [["trip_start"], ["trip_cancel"]]
    assert commands(vehicle) == []
    assert not RideBilling.objects.filter(ride_id=ride.id).exists()
    assert Payment.objects.get(ride_id=ride.id).status == Payment.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_hold_is_placed_outside_any_database_transaction(api, card_rider, vehicle, caplog):
    with caplog.at_level(logging.WARNING, logger="billing.services.payments"):
        r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert r.status_code == 201, r.json()
    assert Payment.objects.get(ride_id=r.json()["id"]).status == Payment.Status.AUTHORISED
    assert "inside a database transaction" not in caplog.text


class _Died(Exception):
    """The process running the start stopped right after its claim committed."""


def _claimed_only(monkeypatch: Any, rider: Any, **start: Any) -> Ride:
    """A start (``ride_start(code=...)`` or ``(reservation_id=...)``) that committed its claim and then died: no
    hold, no unlock command."""

    def died(**_: Any) -> None:
        raise _Died()

    with monkeypatch.context() as patched:
        patched.setattr(billing_rides, "ride_hold_place", died)
        with pytest.raises(_Died):
            services.ride_start(rider=rider, **start)
    return Ride.objects.get(rider=rider, state=RideState.UNLOCKING)


def test_a_retry_finishes_a_start_that_died_after_its_claim_with_one_hold(api, card_rider, vehicle, monkeypatch):
    ride = _claimed_only(monkeypatch, card_rider, code=vehicle.code)
    assert ride.state == RideState.UNLOCKING and not RideBilling.objects.filter(ride_id=ride.id).exists()
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert (r.status_code, r.json()["id"], r.json()["state"]) == (201, str(ride.id), "unlocking")
    ride.refresh_from_db()
    assert ride.unlock_command_id is not None and commands(vehicle) == ["unlock"]
    assert Payment.objects.filter(ride_id=ride.id, purpose=Payment.Purpose.RIDE_HOLD).count() == 1
    # once finished, another start (without the first request's Idempotency-Key) is a second ride: refused
    assert _code(api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")) == (
        409, "ride_already_open")
    assert Payment.objects.filter(ride_id=ride.id, purpose=Payment.Purpose.RIDE_HOLD).count() == 1


def test_a_retry_by_reservation_finishes_a_start_from_that_reservation(api, card_rider, vehicle, monkeypatch):
    reservation_id = api.as_(card_rider).post("/api/v1/reservations", {"code": vehicle.code},
                                              format="json").json()["id"]
    ride = _claimed_only(monkeypatch, card_rider, reservation_id=uuid.UUID(reservation_id))
    assert not Payment.objects.filter(ride_id=ride.id).exists() and ride.unlock_command_id is None
    r = api.post(START_URL, {"reservation_id": reservation_id}, format="json")
    assert (r.status_code, r.json()["id"], r.json()["reservation_id"]) == (201, str(ride.id), reservation_id)
    assert commands(vehicle) == ["unlock"]
    assert _code(api.post(START_URL, {"code": "FW99999"}, format="json")) == (409, "ride_already_open")


def test_the_sweep_cancels_a_start_that_died_after_its_claim(card_rider, vehicle, monkeypatch):
    ride = _claimed_only(monkeypatch, card_rider, code=vehicle.code)
    assert services.rides_sweep_commands() == 0  # within the TTL: the rider may still retry
    Ride.objects.filter(id=ride.id).update(created_at=ride.created_at - dt.timedelta(minutes=5))
    assert services.rides_sweep_commands() == 1
    ride.refresh_from_db()
    assert (ride.state, ride.cancel_reason) == (RideState.CANCELLED, "start_incomplete")
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE


def test_a_ride_cancelled_while_its_hold_is_placed_gets_no_unlock_and_the_hold_is_voided(
        api, card_rider, staff_user, vehicle, monkeypatch):
    real = billing_rides.ride_hold_place

    def hold_then_ops_cancel(**kwargs: Any) -> RideBilling:
        billing = real(**kwargs)
        services.ride_force_end(ride_id=kwargs["ride_id"], actor=staff_user, reason="stuck")  # ops, meanwhile
        return billing

    monkeypatch.setattr(billing_rides, "ride_hold_place", hold_then_ops_cancel)
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert _code(r) == (409, "ride_state_conflict")
    ride = Ride.objects.get(vehicle=vehicle)
    assert ride.state == RideState.CANCELLED and ride.unlock_command_id is None
    assert not Command.objects.filter(vehicle=vehicle).exists()
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.RELEASED
    assert Payment.objects.get(ride_id=ride.id).status == Payment.Status.VOIDED


def test_start_and_end_query_budget_once_caches_are_warm(api, rider, city, scooter, django_assert_max_num_queries,
                                                         django_capture_on_commit_callbacks):
    """Wallet riders (the common case): the start and the end stay within a fixed number of queries."""
    from billing.services import wallet
    from tests.fleet.factories import VehicleFactory
    from tests.rides.conftest import ack

    card = methods.payment_method_add(user=rider, token="tok_visa")
    wallet.wallet_top_up(user=rider, amount=Decimal("50.00"), currency="EUR", payment_method_id=card.pk)
    first, second = (VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FW0000{i}") for i in (1, 2))
    client = api.as_(rider)
    warm = client.post(START_URL, {"code": first.code}, format="json").json()["id"]  # fills the caches
    services.ride_force_end(ride_id=warm, actor=rider, reason="warm-up")
    # auth 1; open ride, reservation, vehicle, wallet, card 5; claim: lock, insert, vehicle update, MDS event 4;
    # wallet hold 1 (the gate's read is reused); unlock: lock, insert 2 (the key is new), ride 1; plus the
    # savepoints that stand for the three transactions here and the command's guard (was 32 before the cuts)
    with django_assert_max_num_queries(22):
        r = client.post(START_URL, {"code": second.code}, format="json")
    assert r.status_code == 201
    ride = Ride.objects.get(id=r.json()["id"])
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(14):  # auth, owner, 2 locks, lock command 3, update + savepoints
        assert client.post(f"/api/v1/rides/{ride.id}/end", format="json").status_code == 202
    ride.refresh_from_db()
    # the vehicle's lock answer: delivery, ack, fare, trip_end, charge from the wallet, with the savepoints that
    # stand for its transactions here (outside a test: 52 statements, was 65 before the re-locks, nested savepoints
    # and per-account look-ups were cut; +1 since a lock's ack asks whether the vehicle is held for one; +1 for the
    # closed command's city, to tell the city's ops sockets (fleet.receivers: the fleet map's command.closed))
    with django_assert_max_num_queries(59):
        ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    ride.refresh_from_db()
    assert ride.state == "ended" and RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED


def test_cached_city_settings_and_tariff_follow_edits(api, card_rider, other_rider, city, scooter, staff_user):
    from billing.services import tariffs
    from rides.models import CityRideSettings
    from tests.fleet.factories import VehicleFactory

    first, second = (VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FW0000{i}", battery_pct=50)
                     for i in (1, 2))
    ride_id = api.as_(card_rider).post(START_URL, {"code": first.code}, format="json").json()["id"]
    assert Decimal(Ride.objects.get(id=ride_id).tariff["unlock_fee"]) == Decimal("1.00")  # settings and tariff now cached
    services.ride_force_end(ride_id=ride_id, actor=staff_user, reason="test")
    tariffs.tariff_publish(city=city, vehicle_type=scooter, unlock_fee=Decimal("1.50"))
    settings_row = CityRideSettings.objects.create(city=city, min_battery_pct=60)  # saved as in the admin
    assert _code(api.as_(card_rider).post(START_URL, {"code": second.code}, format="json")) == (
        422, "battery_too_low")
    settings_row.min_battery_pct = 40
    settings_row.save()
    r = api.as_(card_rider).post(START_URL, {"code": second.code}, format="json")
    assert r.status_code == 201, r.json()
    assert Decimal(Ride.objects.get(id=r.json()["id"]).tariff["unlock_fee"]) == Decimal("1.50")


def test_two_retries_of_a_half_finished_start_racing_for_the_hold_get_409_not_500(api, card_rider, vehicle,
                                                                                  monkeypatch):
    """The other retry has created the card hold but not yet recorded it: this one backs off, undoing nothing."""
    ride = _claimed_only(monkeypatch, card_rider, code=vehicle.code)
    Payment.objects.create(user=card_rider, provider="fake", purpose=Payment.Purpose.RIDE_HOLD, amount=Decimal("20.00"),
                           currency=ride.currency, ride_id=ride.id)
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert _code(r) == (409, "ride_start_in_progress")
    ride.refresh_from_db()
    assert (ride.state, ride.unlock_command_id) == (RideState.UNLOCKING, None)
    assert Payment.objects.filter(ride_id=ride.id, purpose=Payment.Purpose.RIDE_HOLD).count() == 1
