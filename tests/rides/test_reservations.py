from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import tariffs
from fleet.states import Status
from rides import services
from rides.models import CityRideSettings, Reservation, Ride
from tests.fleet.factories import VehicleFactory
from tests.rides.conftest import START_URL, ack

pytestmark = pytest.mark.django_db
RES_URL = "/api/v1/reservations"


def test_reserve_hold_time_per_city_and_one_per_rider_and_vehicle(api, card_rider, other_rider, vehicle, city,
                                                                  scooter):
    CityRideSettings.objects.create(city=city, reservation_hold_minutes=15)
    r = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json")
    assert r.status_code == 201, r.json()
    reservation = Reservation.objects.get(id=r.json()["id"])
    assert abs((reservation.expires_at - reservation.created_at) - dt.timedelta(minutes=15)) < dt.timedelta(seconds=1)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.RESERVED, reservation.id)
    second = VehicleFactory.create(city=city, vehicle_type=scooter, code="FW00002")
    r = api.post(RES_URL, {"code": second.code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "reservation_already_active")
    from tests.rides.conftest import add_card

    add_card(other_rider)
    r = api.as_(other_rider).post(RES_URL, {"code": vehicle.code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "vehicle_unavailable")
    r = api.as_(other_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "vehicle_unavailable")


def test_cancel_frees_the_vehicle_and_a_second_cancel_is_a_conflict(api, card_rider, vehicle):
    reservation_id = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    r = api.post(f"{RES_URL}/{reservation_id}/cancel")
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    r = api.post(f"{RES_URL}/{reservation_id}/cancel")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "reservation_state_conflict")


def test_start_from_reservation_charges_the_reservation_fee_in_the_fare(
        api, card_rider, vehicle, city, scooter, django_capture_on_commit_callbacks):
    tariffs.tariff_publish(city=city, vehicle_type=scooter, reservation_mode="flat",
                           reservation_flat_fee=Decimal("0.50"))
    reservation_id = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    Reservation.objects.filter(id=reservation_id).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    r = api.post(START_URL, {"reservation_id": reservation_id}, format="json")
    assert r.status_code == 201, r.json()
    ride = Ride.objects.get(id=r.json()["id"])
    assert Reservation.objects.get(id=reservation_id).state == Reservation.State.CONVERTED
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    api.post(f"/api/v1/rides/{ride.id}/end")
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    ride.refresh_from_db()
    assert ride.fare is not None
    lines = {line["kind"]: line for line in ride.fare["lines"]}
    assert Decimal(lines["reservation"]["amount"]) == Decimal("0.50")


def test_expiry_frees_the_vehicle_and_repeated_lapses_mean_a_cooldown(api, card_rider, city, scooter):
    CityRideSettings.objects.create(city=city, reservation_lapse_limit=2, reservation_cooldown_minutes=30)
    vehicles = [VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FW0010{i}") for i in range(3)]
    for v in vehicles[:2]:
        assert api.as_(card_rider).post(RES_URL, {"code": v.code}, format="json").status_code == 201
        Reservation.objects.filter(state="active").update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert services.reservations_expire() == 1
        v.refresh_from_db()
        assert v.status == Status.AVAILABLE
    r = api.post(RES_URL, {"code": vehicles[2].code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (429, "reservation_cooldown")
    assert r.json()["error"]["details"]["retry_after"] > 1700


@pytest.mark.parametrize("how", ["cancel", "expire"])
def test_a_reservation_closed_without_a_ride_charges_its_fee_once(api, card_rider, vehicle, city, scooter, how):
    from billing import selectors as billing_selectors
    from billing.models import LedgerTransaction
    from billing.services import wallet
    from tests.rides.conftest import add_card

    tariffs.tariff_publish(city=city, vehicle_type=scooter, reservation_mode="flat",
                           reservation_flat_fee=Decimal("0.50"))
    wallet.wallet_top_up(user=card_rider, amount=Decimal("10.00"), currency="EUR",
                         payment_method_id=add_card(card_rider).pk)
    reservation_id = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    Reservation.objects.filter(id=reservation_id).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    if how == "cancel":
        r = api.post(f"{RES_URL}/{reservation_id}/cancel")
        assert r.json()["fee"] == {"amount": "0.50", "currency": "EUR"}
    else:
        Reservation.objects.filter(id=reservation_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        assert services.reservations_expire() == 1
    reservation = Reservation.objects.get(id=reservation_id)
    assert reservation.fee == Decimal("0.50") and reservation.fee_charged_at is not None
    assert billing_selectors.wallet_balance(user=card_rider, currency="EUR").cash == Decimal("9.50")
    services.reservations_expire()  # the retry sweep finds nothing to charge again
    assert LedgerTransaction.objects.filter(kind="reservation_fee").count() == 1


def test_a_fee_that_failed_is_retried_by_the_expiry_task(api, card_rider, vehicle, city, scooter, monkeypatch):
    from billing.models import LedgerTransaction
    from billing.services import fees

    tariffs.tariff_publish(city=city, vehicle_type=scooter, reservation_mode="flat",
                           reservation_flat_fee=Decimal("0.50"))
    reservation_id = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    Reservation.objects.filter(id=reservation_id).update(created_at=timezone.now() - dt.timedelta(minutes=3))
    real = fees.reservation_fee_charge

    def down(**kwargs):
        raise ConnectionError("database of the ledger unreachable")

    monkeypatch.setattr(fees, "reservation_fee_charge", down)
    assert api.post(f"{RES_URL}/{reservation_id}/cancel").status_code == 200  # the cancel itself succeeds
    assert Reservation.objects.get(id=reservation_id).fee_charged_at is None
    monkeypatch.setattr(fees, "reservation_fee_charge", real)
    Reservation.objects.filter(id=reservation_id).update(closed_at=timezone.now() - dt.timedelta(minutes=2))
    services.reservations_expire()
    assert Reservation.objects.get(id=reservation_id).fee_charged_at is not None
    assert LedgerTransaction.objects.filter(kind="reservation_fee").count() == 1


def test_a_free_reservation_charges_nothing(api, card_rider, vehicle):
    from billing.models import LedgerTransaction

    reservation_id = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    assert api.post(f"{RES_URL}/{reservation_id}/cancel").json()["fee"]["amount"] == "0.00"
    assert not LedgerTransaction.objects.filter(kind="reservation_fee").exists()
