from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from billing.models import RideBilling
from fleet import grid
from fleet.models import Vehicle, VehicleEvent
from fleet.states import Status
from rides import errors, services
from rides.models import CityRideSettings, Ride, RideState
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory
from tests.rides.conftest import START_URL, ack, add_card, commands, started

pytestmark = pytest.mark.django_db


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_start_by_code_holds_money_queues_unlock_and_waits_for_the_ack(api, card_rider, vehicle,
                                                                      django_capture_on_commit_callbacks):
    r = api.as_(card_rider).post(START_URL, {"code": "fw00001"}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["state"], body["vehicle_code"], body["started_at"]) == ("unlocking", "FW00001", None)
    ride = Ride.objects.get(id=body["id"])
    assert Decimal(ride.tariff["unlock_fee"]) == Decimal("1.00") and ride.currency == "EUR"
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.HELD
    assert commands(vehicle) == ["unlock"]
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.ON_TRIP, ride.id)
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE and ride.started_at is not None


def _set(user: Any, **fields: Any) -> None:
    type(user).objects.filter(pk=user.pk).update(**fields)


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda r, v: _set(r, status="blocked"), (403, "account_blocked")),  # the auth layer
    (lambda r, v: _set(r, date_of_birth=dt.date.today() - dt.timedelta(days=365 * 16)),
     (422, "rider_too_young")),
    (lambda r, v: _set(r, date_of_birth=None), (422, "date_of_birth_required")),
    (lambda r, v: Vehicle.objects.filter(id=v.id).update(battery_pct=10), (422, "battery_too_low")),
    (lambda r, v: Vehicle.objects.filter(id=v.id).update(lat=50.0, lon=10.0, cell=grid.cell_of(50.0, 10.0)),
     (422, "ride_start_not_allowed_here")),
    (lambda r, v: Vehicle.objects.filter(id=v.id).update(status=Status.MAINTENANCE), (409, "vehicle_unavailable")),
])
def test_each_start_check_has_its_own_code_and_writes_nothing(api, card_rider, vehicle, setup, expected):
    setup(card_rider, vehicle)
    card_rider.refresh_from_db()
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert _code(r) == expected
    assert not Ride.objects.exists() and not RideBilling.objects.exists() and commands(vehicle) == []


def test_no_payment_method_and_unknown_vehicle(api, rider, vehicle):
    assert _code(api.as_(rider).post(START_URL, {"code": vehicle.code}, format="json")) == (
        422, "payment_method_required")
    add_card(rider)
    assert _code(api.as_(rider).post(START_URL, {"code": "NOPE"}, format="json")) == (404, "vehicle_not_found")
    assert _code(api.as_(rider).post(START_URL, {}, format="json"))[0] == 400


def test_one_open_ride_per_rider_and_the_second_rider_gets_vehicle_unavailable(
        api, card_rider, other_rider, vehicle, city, scooter, django_capture_on_commit_callbacks):
    started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    second = VehicleFactory.create(city=city, vehicle_type=scooter, code="FW00002")
    assert _code(api.as_(card_rider).post(START_URL, {"code": second.code}, format="json")) == (
        409, "ride_already_open")
    add_card(other_rider)
    assert _code(api.as_(other_rider).post(START_URL, {"code": vehicle.code}, format="json")) == (
        409, "vehicle_unavailable")


def test_battery_minimum_is_per_city(api, card_rider, vehicle, city):
    CityRideSettings.objects.create(city=city, min_battery_pct=90)
    assert _code(api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")) == (
        422, "battery_too_low")


def test_unlock_never_acked_cancels_the_ride_releases_the_hold_and_frees_the_vehicle(api, card_rider, vehicle):
    r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    ride = Ride.objects.get(id=r.json()["id"])
    assert services.rides_sweep_commands() == 0  # within the TTL: nothing happens
    Ride.objects.filter(id=ride.id).update(created_at=ride.created_at - dt.timedelta(minutes=5))
    assert services.rides_sweep_commands() == 1
    ride.refresh_from_db()
    assert (ride.state, ride.cancel_reason) == (RideState.CANCELLED, "unlock_timed_out")
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.RELEASED
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    assert "trip_cancel" in VehicleEvent.objects.filter(vehicle=vehicle).latest("recorded_at").event_types
    assert api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json").status_code == 201


def test_refused_unlock_cancels_at_once(api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = Ride.objects.get(id=api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json").json()["id"])
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks, ok=False)
    ride.refresh_from_db()
    assert (ride.state, ride.cancel_reason) == (RideState.CANCELLED, "unlock_failed")


def test_other_riders_cannot_see_a_ride(api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    stranger = UserFactory()
    assert _code(api.as_(stranger).get(f"/api/v1/rides/{ride.id}")) == (404, "ride_not_found")
    assert _code(api.as_(stranger).post(f"/api/v1/rides/{ride.id}/end")) == (404, "ride_not_found")


def test_service_refuses_a_rider_who_is_not_active(card_rider, vehicle):
    card_rider.status = "deleted"
    with pytest.raises(errors.RiderNotActive):
        services.ride_start(rider=card_rider, code=vehicle.code)
    assert not Ride.objects.exists()
