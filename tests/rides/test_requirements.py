"""GET /me lists what a rider still needs before a first ride: each item is a refusal the start and the
reservation calls really give (same code), and its action is the call that lifts it."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from billing.services import fees
from rides.models import Reservation, Ride
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory
from tests.rides.conftest import START_URL, add_card

pytestmark = pytest.mark.django_db
ME, RESERVE = "/api/v1/me", "/api/v1/reservations"


def _requirements(api: Any, rider: Any) -> list[dict[str, Any]]:
    r = api.as_(rider).get(ME)
    assert r.status_code == 200
    return r.json()["ride_requirements"]


def _refused(api: Any, rider: Any, vehicle: Any) -> set[tuple[int, str]]:
    """What the start and the reservation answer; neither may have written anything."""
    start = api.as_(rider).post(START_URL, {"code": vehicle.code}, format="json")
    reserve = api.as_(rider).post(RESERVE, {"code": vehicle.code}, format="json")
    assert not Ride.objects.filter(rider=rider).exists() and not Reservation.objects.filter(rider=rider).exists()
    return {(r.status_code, r.json()["error"]["code"]) for r in (start, reserve)}


def _satisfy(api: Any, rider: Any, requirement: dict[str, Any]) -> None:
    """Do what the requirement's action says, as an app would."""
    action = requirement["action"]
    body: dict[str, Any] = {"date_of_birth": "1990-01-01"} if action["body_fields"] == ["date_of_birth"] else {}
    if requirement["code"] == "payment_method_required":
        body = {"token": "tok_visa"}  # what the app's card form hands over
    call = getattr(api.as_(rider), action["method"].lower())
    r = call(action["path"], body, format="json")
    assert r.status_code in (200, 201), r.json()


def _owe(rider: Any, amount: str = "1.25") -> None:
    fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal(amount), currency="EUR")


def _card_no_birth_date(rider: Any) -> None:
    add_card(rider)
    type(rider).objects.filter(pk=rider.pk).update(date_of_birth=None)


def _nothing(rider: Any) -> None:
    pass


def _debt_and_card(rider: Any) -> None:
    _owe(rider)
    add_card(rider)


@pytest.mark.parametrize(("setup", "code", "details"), [
    (_card_no_birth_date, "date_of_birth_required", {"vehicle_types": [{"code": "scooter", "min_rider_age": 18}]}),
    (_nothing, "payment_method_required", {"currencies": ["EUR"]}),
    (_debt_and_card, "outstanding_debt", {"owed": [{"amount": "1.25", "currency": "EUR"}]}),
])
def test_each_listed_requirement_is_what_start_and_reserve_refuse_and_its_action_lifts_it(
        api, rider, vehicle, setup, code, details, django_capture_on_commit_callbacks):
    setup(rider)
    rider.refresh_from_db()
    listed = _requirements(api, rider)
    assert [(item["code"], item["details"]) for item in listed] == [(code, details)]
    assert listed[0]["message"] and listed[0]["action"]["path"].startswith("/api/v1/")
    assert _refused(api, rider, vehicle) == {(422, code)}
    _satisfy(api, rider, listed[0])
    rider.refresh_from_db()
    assert _requirements(api, rider) == []
    assert api.as_(rider).post(START_URL, {"code": vehicle.code}, format="json").status_code == 201


def test_a_new_rider_sees_everything_in_the_order_the_start_checks_it(api, vehicle):
    rider = UserFactory.create(date_of_birth=None)
    assert [item["code"] for item in _requirements(api, rider)] == ["payment_method_required",
                                                                     "date_of_birth_required"]
    assert _refused(api, rider, vehicle) == {(422, "payment_method_required")}  # the first check wins
    add_card(rider)
    assert [item["code"] for item in _requirements(api, rider)] == ["date_of_birth_required"]
    assert _refused(api, rider, vehicle) == {(422, "date_of_birth_required")}
    r = api.as_(rider).patch(ME, {"date_of_birth": "1990-01-01"}, format="json")
    assert (r.status_code, r.json()["ride_requirements"]) == (200, [])  # PATCH me answers with the new list


def test_me_with_a_city_costs_a_few_queries(api, rider, vehicle, django_assert_num_queries):
    client = api.as_(rider)
    # account, role groups; city currencies, default card, the EUR balance (the rider has a date of birth)
    with django_assert_num_queries(5):
        assert client.get(ME).status_code == 200


def test_nothing_is_listed_that_the_start_does_not_ask_for(api, rider, vehicle):
    """No date of birth without a minimum age; an unverified phone is never asked for; a wallet is enough."""
    from billing.models import AccountKind
    from billing.services import wallet

    type(rider).objects.filter(pk=rider.pk).update(date_of_birth=None, phone="+4915112345678")
    rider.refresh_from_db()
    type(vehicle.vehicle_type).objects.filter(pk=vehicle.vehicle_type_id).update(min_rider_age=0)
    wallet.bonus_grant(user=rider, amount=Decimal("5.00"), currency="EUR", source=AccountKind.PROMOTIONS,
                       idempotency_key="promo", description="promo")  # no card, a wallet above the minimum
    assert _requirements(api, rider) == []
    assert api.as_(rider).post(START_URL, {"code": vehicle.code}, format="json").status_code == 201


def test_money_is_per_currency_and_an_unused_age_rule_asks_nothing(api, rider, vehicle):
    """A debt in CHF blocks rides in Zurich only; a type with a minimum age but no vehicles asks for nothing."""
    zurich = CityFactory.create(slug="zurich", currency="CHF", timezone="Europe/Zurich")
    VehicleTypeFactory.create(code="moped-unused", min_rider_age=21)
    add_card(rider)
    type(rider).objects.filter(pk=rider.pk).update(date_of_birth=None)
    rider.refresh_from_db()
    fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("2.00"), currency="CHF")
    # the card paid the CHF fee at once: nothing owed
    listed = {item["code"]: item for item in _requirements(api, rider)}
    assert set(listed) == {"date_of_birth_required"}
    assert listed["date_of_birth_required"]["details"]["vehicle_types"] == [{"code": "scooter", "min_rider_age": 18}]
    VehicleFactory.create(city=zurich, vehicle_type=vehicle.vehicle_type, code="ZH00001")
    assert [item["code"] for item in _requirements(api, rider)] == ["date_of_birth_required"]
