"""OpenAPI pieces shared by every app: the error envelope of core/errors.py as a schema component."""

from __future__ import annotations

from typing import Any

import drf_spectacular.openapi
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorOut = inline_serializer(
    "ErrorOut",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(help_text="Stable snake_case code to branch on"),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)


def error_responses(**codes: str) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for error statuses: ``error_responses(**{"409": "email_taken"})``."""
    return {int(code): OpenApiResponse(ErrorOut, description=text) for code, text in codes.items()}


# The statuses DRF itself may answer on an operation, from what the view declares: every operation documents them
# (a generated client branches on them, and a fuzzer treats an undocumented status as a bug).
_OPEN_PERMISSIONS = {"AllowAny", "IsAuthenticated", "IsAuthenticatedOrReadOnly"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class AutoSchema(drf_spectacular.openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error responses the framework gives on every operation.

    - 400 ``validation_error`` / ``malformed_request``: the operation takes a body or query parameters;
    - 401 ``not_authenticated`` / ``authentication_failed``: the view authenticates (a bad token is refused even
      where anonymous callers are welcome);
    - 403 ``permission_denied``: a permission beyond "signed in" (a staff role);
    - 404 ``not_found``: the path names an object;
    - 413 ``request_too_large``: the operation takes a body (docs/security.md "Input limits");
    - 415 ``unsupported_media_type``: the operation takes a body;
    - 429 ``throttled``: the view is rate limited.
    and the domain errors the view declares in ``domain_errors`` (see ``_domain_errors``), their codes listed by status.
    A status the view documents itself keeps its own description.
    """

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        errors = self._framework_errors(operation)
        for status, codes in self._domain_errors().items():
            errors[status] = "; ".join(filter(None, [errors.get(status), ", ".join(codes)]))
        for status, text in sorted(errors.items()):
            if str(status) not in responses:
                responses[str(status)] = {
                    "content": {"application/json": {"schema": self._error_ref()}},
                    "description": text,
                }
        return operation

    def _domain_errors(self) -> dict[int, list[str]]:
        """The view's ``domain_errors``: the DomainError classes its operations answer with (a tuple for every method,
        or a dict by method name), documented as ``status: code, code``."""
        declared = getattr(self.view, "domain_errors", ())
        if isinstance(declared, dict):
            declared = declared.get(self.method.lower(), ())
        by_status: dict[int, list[str]] = {}
        for error in declared:
            by_status.setdefault(error.status, [])
            if error.code not in by_status[error.status]:
                by_status[error.status].append(error.code)
        return by_status

    def _error_ref(self) -> dict[str, str]:
        return self.resolve_serializer(ErrorOut, "response").ref

    def _framework_errors(self, operation: dict[str, Any]) -> dict[int, str]:
        view, method = self.view, self.method.upper()
        parameters = operation.get("parameters", [])
        errors: dict[int, str] = {}
        takes_body = method in _BODY_METHODS and "requestBody" in operation
        if takes_body or any(p.get("in") == "query" for p in parameters):
            errors[400] = "validation_error or malformed_request: the input is malformed"
            if any(p.get("name") == "cursor" for p in parameters):
                errors[400] += "; cursor_invalid: a cursor the server did not issue"
        if view.get_authenticators():
            errors[401] = "not_authenticated, authentication_failed or token_not_valid"
        if any(type(p).__name__ not in _OPEN_PERMISSIONS for p in view.get_permissions()):
            errors[403] = "permission_denied: the caller lacks the role this operation needs"
        if any(p.get("in") == "path" for p in parameters):
            errors[404] = "not_found: no such object, or not visible to this caller"
        if takes_body:
            errors[413] = "request_too_large: the body is over DATA_UPLOAD_MAX_MEMORY_SIZE"
            errors[415] = "unsupported_media_type: the body is not in a media type the operation reads"
        if view.get_throttles():
            errors[429] = "throttled: too many requests; retry after Retry-After seconds"
        return errors


# The path parameter an object's own ``id`` fills, by response component (other ``<thing>_id`` fields fill the
# parameter of the same name).
_ID_PARAMETER = {
    "RideOut": "ride_id",
    "RideDetailOut": "ride_id",
    "RideStatusOut": "ride_id",
    "ReservationOut": "reservation_id",
    "VehicleCommandOut": "command_id",
    "NotificationOut": "notification_id",
    "OpsAlertOut": "alert_id",
    "OpsTaskOut": "task_id",
    "VehicleNearbyOut": "vehicle_id",
}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: OpenAPI links from each operation that returns an object to those taking its id.

    ``POST /rides/start`` links to ``GET /rides/{ride_id}``, pause, end, the receipt...: generated clients and
    stateful fuzzers (schemathesis) chain calls along them. A list links through its first item.
    """
    schemas = result.get("components", {}).get("schemas", {})
    consumers: dict[str, list[str]] = {}
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path":
                    consumers.setdefault(parameter["name"], []).append(operation["operationId"])
    for operations in result["paths"].values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                links = _links_for(schema, schemas, consumers, operation["operationId"])
                if links:
                    response["links"] = links
    return result


def _links_for(schema: dict[str, Any], schemas: dict[str, Any], consumers: dict[str, list[str]],
               producer: str) -> dict[str, Any]:
    name, pointer = _object_of(schema, schemas)
    if name is None:
        return {}
    links = {}
    for field in schemas[name].get("properties", {}):
        parameter = _ID_PARAMETER.get(name) if field == "id" else field if field.endswith("_id") else None
        for consumer in consumers.get(parameter or "", []):
            if consumer != producer:
                links[f"{consumer}_by_{field}"] = {
                    "operationId": consumer,
                    "parameters": {parameter: f"$response.body#{pointer}/{field}"},
                }
    return links


def _object_of(schema: dict[str, Any], schemas: dict[str, Any]) -> tuple[str | None, str]:
    """The component a response returns and the JSON pointer to it: the body, a list's first item or a page's."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        results = schemas.get(name, {}).get("properties", {}).get("results", {})
        if "$ref" in results.get("items", {}):
            return results["items"]["$ref"].rsplit("/", 1)[-1], "/results/0"
        return name, ""
    if "$ref" in schema.get("items", {}):
        return schema["items"]["$ref"].rsplit("/", 1)[-1], "/0"
    return None, ""
