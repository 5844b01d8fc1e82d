"""The OpenAPI schema documents every status the framework can answer and links the operations that chain."""

from __future__ import annotations

import re
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def operations() -> dict[str, dict[str, Any]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {op["operationId"]: op for path in schema["paths"].values() for op in path.values()}


def statuses(operation: dict[str, Any]) -> set[str]:
    return set(operation["responses"])


def test_authenticated_operations_document_401(operations: dict[str, Any]) -> None:
    missing = [name for name, op in operations.items()
               if any(requirement for requirement in op.get("security", [])) and "401" not in statuses(op)]
    assert missing == []


@pytest.mark.parametrize(("operation", "status"), [
    ("tariffs_list", "400"), ("zones_at_point", "400"), ("passes_catalogue_list", "400"),
    ("auth_sign_in", "400"), ("auth_token_refresh", "400"), ("auth_logout", "400"),
    ("auth_phone_verify", "400"), ("auth_password_reset_confirm", "400"),
    ("cities_zones_get", "404"), ("billing_rides_receipt_html_get", "404"),
    ("billing_webhooks_receive", "404"), ("rides_force_end", "403"), ("auth_sign_in", "429"),
    ("rides_start", "415"),
])
def test_framework_statuses_are_documented_with_the_error_envelope(
    operations: dict[str, Any], operation: str, status: str
) -> None:
    response = operations[operation]["responses"][status]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


def test_operations_that_return_an_object_link_to_those_taking_its_id(operations: dict[str, Any]) -> None:
    links = operations["rides_start"]["responses"]["201"]["links"]
    assert links["rides_end_by_id"] == {
        "operationId": "rides_end", "parameters": {"ride_id": "$response.body#/id"},
    }
    listed = operations["ops_tasks_list"]["responses"]["200"]["links"]
    assert listed["ops_tasks_close_by_id"]["parameters"] == {"task_id": "$response.body#/results/0/id"}
    linked = {link["operationId"] for response in operations["vehicles_command_send"]["responses"].values()
              for link in response.get("links", {}).values()}
    assert linked == {"commands_get"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def test_operation_ids_are_unique_and_read_as_function_names(schema: dict[str, Any]) -> None:
    ids = [op["operationId"] for path in schema["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", i)] == []
    # drf-spectacular's own suffixes are gone: a call is named after what it does.
    assert [i for i in ids if re.search(r"_(retrieve|partial_update|destroy)$", i)] == []


# The rider's journey as a generated client calls it: these names are a contract (renaming one breaks every app).
JOURNEY = {
    ("POST", "/api/v1/auth/register"): "auth_register", ("POST", "/api/v1/auth/token"): "auth_sign_in",
    ("POST", "/api/v1/auth/token/refresh"): "auth_token_refresh", ("GET", "/api/v1/me"): "me_get",
    ("PATCH", "/api/v1/me"): "me_update", ("POST", "/api/v1/payment-methods"): "payment_methods_add",
    ("GET", "/api/v1/vehicles/nearby"): "vehicles_nearby", ("POST", "/api/v1/reservations"): "reservations_create",
    ("POST", "/api/v1/reservations/{reservation_id}/cancel"): "reservations_cancel",
    ("POST", "/api/v1/rides/start"): "rides_start", ("GET", "/api/v1/rides/{ride_id}"): "rides_get",
    ("POST", "/api/v1/rides/{ride_id}/pause"): "rides_pause", ("POST", "/api/v1/rides/{ride_id}/resume"): "rides_resume",
    ("POST", "/api/v1/rides/{ride_id}/end"): "rides_end", ("GET", "/api/v1/rides"): "rides_list",
    ("GET", "/api/v1/billing/rides/{ride_id}/receipt"): "billing_rides_receipt_get",
    ("GET", "/api/v1/wallet"): "wallet_get", ("POST", "/api/v1/wallet/top-ups"): "wallet_top_up",
    ("POST", "/api/v1/ws-ticket"): "ws_ticket_create", ("GET", "/api/v1/me/notifications"): "me_notifications_list",
    ("GET", "/api/v1/cities"): "cities_list", ("GET", "/api/v1/cities/{city}"): "cities_get",
    ("POST", "/api/v1/wallet/settle"): "wallet_settle", ("GET", "/api/v1/me/current"): "me_current_get",
    ("GET", "/api/v1/reservations"): "reservations_list",
    ("GET", "/api/v1/reservations/{reservation_id}"): "reservations_get",
    ("GET", "/api/v1/rides/{ride_id}/track"): "rides_track_get",
    ("PUT", "/api/v1/me/devices/{install_id}"): "me_devices_register",
    ("DELETE", "/api/v1/me/devices/{install_id}"): "me_devices_unregister",
    ("GET", "/api/v1/me/notification-preferences"): "me_notification_preferences_get",
    ("PATCH", "/api/v1/me/notification-preferences"): "me_notification_preferences_update",
}


def test_the_journey_operations_keep_their_names(schema: dict[str, Any]) -> None:
    named = {(method.upper(), path): op["operationId"] for path, ops in schema["paths"].items()
             for method, op in ops.items()}
    assert {key: named.get(key) for key in JOURNEY} == JOURNEY


def test_enums_are_named_after_what_they_are(schema: dict[str, Any], settings: Any) -> None:
    enums = {name for name, component in schema["components"]["schemas"].items() if "enum" in component}
    assert {"RideStateEnum", "ReservationStateEnum", "UserStatusEnum", "PaymentStatusEnum"} <= enums
    # Every enum is named on purpose in ENUM_NAME_OVERRIDES: none is named by drf-spectacular after a serializer and
    # a field (UserOutStatusEnum), a bare field (CodeEnum) or a hash (Status3bcEnum).
    assert enums - set(settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]) == set()


def test_request_bodies_keep_their_serializer_names(schema: dict[str, Any]) -> None:
    names = set(schema["components"]["schemas"])
    assert {"RideStartIn", "RegisterIn", "MeUpdateIn", "Money", "MoneyIn"} <= names
    assert [name for name in names if name.endswith("Request")] == []
    body = schema["paths"]["/api/v1/rides/start"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/RideStartIn"}


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/api/v1/auth/register", "post", None), ("/api/v1/auth/register", "post", "201"),
    ("/api/v1/payment-methods", "post", None), ("/api/v1/payment-methods", "post", "201"),
    ("/api/v1/vehicles/nearby", "get", "200"), ("/api/v1/reservations", "post", None),
    ("/api/v1/reservations", "post", "201"), ("/api/v1/rides/start", "post", None),
    ("/api/v1/rides/start", "post", "201"), ("/api/v1/rides/{ride_id}/end", "post", "202"),
    ("/api/v1/billing/rides/{ride_id}/receipt", "get", "200"), ("/api/v1/wallet/top-ups", "post", None),
])
def test_the_main_bodies_carry_examples(schema: dict[str, Any], path: str, method: str, status: str | None) -> None:
    operation = schema["paths"][path][method]
    body = operation["requestBody"] if status is None else operation["responses"][status]
    examples = next(iter(body["content"].values()))["examples"]
    assert examples and all(example["value"] for example in examples.values())
