"""The error codes the schema lists per operation and status (``x-error-codes``) include the ones the API really
answers: each case below provokes an error through the API and looks its code up in the schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from billing.services import methods
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory
from tests.rides.conftest import START_URL, add_card

pytestmark = pytest.mark.django_db
RES_URL = "/api/v1/reservations"


@pytest.fixture(scope="module")
def operations(django_db_blocker: Any) -> dict[str, dict[str, Any]]:
    with django_db_blocker.unblock():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}


def _start(api: Any, rider: Any, code: str) -> Any:
    return api.as_(rider).post(START_URL, {"code": code}, format="json")


def _open_ride(api: Any, rider: Any, vehicle: Any) -> str:
    add_card(rider)
    response = _start(api, rider, vehicle.code)
    assert response.status_code == 201
    return str(response.json()["id"])


def taken_vehicle(api: Any, rider: Any, vehicle: Any) -> Any:
    _open_ride(api, UserFactory(), vehicle)
    add_card(rider)
    return _start(api, rider, vehicle.code)


def reserve_with_a_ride_open(api: Any, rider: Any, vehicle: Any) -> Any:
    _open_ride(api, rider, vehicle)
    other = VehicleFactory.create(city=vehicle.city, vehicle_type=vehicle.vehicle_type, code="FW00002")
    return api.as_(rider).post(RES_URL, {"code": other.code}, format="json")


def cancel_twice(api: Any, rider: Any, vehicle: Any) -> Any:
    add_card(rider)
    reservation = api.as_(rider).post(RES_URL, {"code": vehicle.code}, format="json").json()["id"]
    assert api.post(f"{RES_URL}/{reservation}/cancel").status_code == 200
    return api.post(f"{RES_URL}/{reservation}/cancel")


def top_up_too_small(api: Any, rider: Any, vehicle: Any) -> Any:
    card = add_card(rider)
    return api.as_(rider).post("/api/v1/wallet/top-ups", {"amount": {"amount": "1.00", "currency": "EUR"},
                                                          "payment_method": str(card.pk)}, format="json")


def top_up_declined(api: Any, rider: Any, vehicle: Any) -> Any:
    card = methods.payment_method_add(user=rider, token="tok_chargeDeclined")
    return api.as_(rider).post("/api/v1/wallet/top-ups", {"amount": {"amount": "10.00", "currency": "EUR"},
                                                          "payment_method": str(card.pk)}, format="json")


def start_with_an_empty_card(api: Any, rider: Any, vehicle: Any) -> Any:
    methods.payment_method_add(user=rider, token="tok_insufficientFunds")  # the hold is refused
    return _start(api, rider, vehicle.code)


def key_reused(api: Any, rider: Any, vehicle: Any) -> Any:
    for code in ("NOPE0001", "NOPE0002"):
        response = api.as_(rider).post(RES_URL, {"code": code}, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
    return response


CASES: dict[str, tuple[str, Callable[[Any, Any, Any], Any]]] = {
    "rider without a card starts": ("rides_start", lambda api, rider, vehicle: _start(api, rider, vehicle.code)),
    "unknown vehicle code": ("rides_start", lambda api, rider, vehicle: _start(api, rider, "NOPE0000")),
    "start body with neither code nor reservation": (
        "rides_start", lambda api, rider, vehicle: api.as_(rider).post(START_URL, {}, format="json")),
    "vehicle already taken": ("rides_start", taken_vehicle),
    "pause while unlocking": ("rides_pause", lambda api, rider, vehicle: api.as_(rider).post(
        f"/api/v1/rides/{_open_ride(api, rider, vehicle)}/pause")),
    "end someone else's ride": ("rides_end", lambda api, rider, vehicle: api.as_(rider).post(
        f"/api/v1/rides/{_open_ride(api, UserFactory(), vehicle)}/end")),
    "reserve with a ride open": ("reservations_create", reserve_with_a_ride_open),
    "cancel a reservation twice": ("reservations_cancel", cancel_twice),
    "receipt before the ride is charged": ("billing_rides_receipt_get", lambda api, rider, vehicle: api.as_(rider).get(
        f"/api/v1/billing/rides/{_open_ride(api, rider, vehicle)}/receipt")),
    "card refused by the provider": ("payment_methods_add", lambda api, rider, vehicle: api.as_(rider).post(
        "/api/v1/payment-methods", {"token": "tok_nonsense"}, format="json")),
    "top-up below the minimum": ("wallet_top_up", top_up_too_small),
    "top-up declined by the card": ("wallet_top_up", top_up_declined),
    "ride hold refused by the card": ("rides_start", start_with_an_empty_card),
    "not signed in": ("rides_list", lambda api, rider, vehicle: api.anonymous().get("/api/v1/rides")),
    "idempotency key reused for another body": ("reservations_create", key_reused),
}


@pytest.mark.parametrize("case", CASES)
def test_the_code_answered_is_listed_for_the_operation_and_status(
        case: str, operations: dict[str, Any], api: Any, rider: Any, vehicle: Any) -> None:
    operation_id, provoke = CASES[case]
    response = provoke(api, rider, vehicle)
    assert response.status_code >= 400, response.content
    code = response.json()["error"]["code"]
    documented = operations[operation_id]["responses"].get(str(response.status_code), {})
    assert code in documented.get("x-error-codes", []), (operation_id, response.status_code, code)
    assert code in operations[operation_id]["description"]  # and in the text a generated client's docstring shows


def test_every_error_status_lists_its_codes(operations: dict[str, Any]) -> None:
    missing = [(name, status) for name, op in operations.items() for status, response in op["responses"].items()
               if int(status) >= 400 and not response.get("x-error-codes")]
    assert missing == []


def test_a_post_lists_the_idempotency_codes_and_takes_the_header(operations: dict[str, Any]) -> None:
    start = operations["rides_start"]
    assert {"Idempotency-Key"} <= {p["name"] for p in start["parameters"] if p["in"] == "header"}
    codes = {status: start["responses"][status]["x-error-codes"] for status in ("400", "409", "422")}
    assert "idempotency_key_invalid" in codes["400"] and "idempotency_request_in_progress" in codes["409"]
    assert "idempotency_key_reused" in codes["422"] and "vehicle_unavailable" in codes["409"]
