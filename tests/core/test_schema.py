"""The OpenAPI schema documents every status the framework can answer and links the operations that chain."""

from __future__ import annotations

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
    ("tariffs_list", "400"), ("zones_retrieve", "400"), ("passes_catalogue_list", "400"),
    ("auth_token_create", "400"), ("auth_token_refresh_create", "400"), ("auth_logout_create", "400"),
    ("auth_phone_verify_create", "400"), ("auth_password_reset_confirm_create", "400"),
    ("cities_zones_retrieve", "404"), ("billing_rides_receipt.html_retrieve", "404"),
    ("billing_webhooks_create", "404"), ("rides_force_end_create", "403"), ("auth_token_create", "429"),
    ("rides_start_create", "415"),
])
def test_framework_statuses_are_documented_with_the_error_envelope(
    operations: dict[str, Any], operation: str, status: str
) -> None:
    response = operations[operation]["responses"][status]
    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}


def test_operations_that_return_an_object_link_to_those_taking_its_id(operations: dict[str, Any]) -> None:
    links = operations["rides_start_create"]["responses"]["201"]["links"]
    assert links["rides_end_create_by_id"] == {
        "operationId": "rides_end_create", "parameters": {"ride_id": "$response.body#/id"},
    }
    listed = operations["ops_tasks_list"]["responses"]["200"]["links"]
    assert listed["ops_tasks_close_create_by_id"]["parameters"] == {"task_id": "$response.body#/results/0/id"}
    linked = {link["operationId"] for response in operations["vehicles_commands_create"]["responses"].values()
              for link in response.get("links", {}).values()}
    assert linked == {"commands_retrieve"}
