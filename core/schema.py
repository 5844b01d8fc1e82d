"""OpenAPI pieces shared by every app: the error envelope of core/errors.py as a schema component, the operation ids,
the ``Idempotency-Key`` header, and the component names a generated client gets (docs/mobile.md)."""

from __future__ import annotations

import re
from typing import Any

import drf_spectacular.openapi
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
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
    """OpenAPI responses for error statuses: ``error_responses(**{"409": "email_taken, phone_taken"})``.

    Give the codes, comma-separated: AutoSchema lists them in the response's ``x-error-codes``."""
    return {int(code): OpenApiResponse(ErrorOut, description=text) for code, text in codes.items()}


# A response description that is a list of codes, as error_responses() takes them: "email_taken, phone_taken".
_CODE_LIST = re.compile(r"[a-z][a-z0-9_]*(?:, [a-z][a-z0-9_]*)*")

# The statuses DRF itself may answer on an operation, from what the view declares: every operation documents them
# (a generated client branches on them, and a fuzzer treats an undocumented status as a bug).
_OPEN_PERMISSIONS = {"AllowAny", "IsAuthenticated", "IsAuthenticatedOrReadOnly"}
_BODY_METHODS = {"POST", "PUT", "PATCH"}


# Operation ids are what a generated client names its calls after (``rides_start.sync(...)``), so they are part of
# the API's contract: stable, unique (tests/core/test_schema.py) and made here, in one place, from the path:
# - the path's words, without the version prefix and the path parameters (``/rides/{ride_id}/end`` -> ``rides_end``);
# - a POST whose last word is an action keeps it as its verb (``rides_end``, ``reservations_cancel``), another POST
#   adds ``_create``; GET adds ``_list`` for a list and ``_get`` for one thing; PATCH ``_update``, PUT ``_replace``,
#   DELETE ``_delete``;
# - where that reads badly, ``OPERATION_IDS`` names the operation (keyed by method and path without the prefix).
# An operation that sets ``operation_id`` in ``@extend_schema`` keeps it (the MDS Provider API).
ACTION_WORDS = frozenset({
    "start", "end", "pause", "resume", "cancel", "assign", "close", "resolve", "read", "verify", "redeem", "refresh",
    "logout", "register", "confirm", "reset", "launch", "settle", "acknowledge", "prune",
})
OPERATION_IDS = {
    ("POST", "/auth/token"): "auth_sign_in",
    ("POST", "/billing/goodwill"): "billing_goodwill_grant",
    ("GET", "/cities"): "cities_list",  # a list in an object ({"results": [...]}): not paginated
    ("POST", "/billing/rides/{ride_id}/refunds"): "billing_rides_refund",
    ("POST", "/billing/webhooks/{provider}"): "billing_webhooks_receive",
    ("PUT", "/me/devices/{install_id}"): "me_devices_register",
    ("DELETE", "/me/devices/{install_id}"): "me_devices_unregister",
    ("POST", "/me/password"): "me_password_change",
    ("POST", "/passes"): "passes_buy",
    ("POST", "/payment-methods"): "payment_methods_add",
    ("POST", "/rides/{ride_id}/problems"): "rides_problem_report",
    ("POST", "/rides/{ride_id}/rating"): "rides_rate",
    ("POST", "/telemetry"): "telemetry_ingest",
    ("POST", "/vehicles/{vehicle_id}/commands"): "vehicles_command_send",
    ("GET", "/vehicles/nearby"): "vehicles_nearby",
    ("POST", "/wallet/top-ups"): "wallet_top_up",
    ("GET", "/zones"): "zones_at_point",
}
# drf-spectacular's suffix -> ours.
_ACTION_SUFFIXES = {"list": "list", "retrieve": "get", "create": "create", "partial_update": "update",
                    "update": "replace", "destroy": "delete"}

# What core.idempotency.IdempotencyMiddleware answers on a POST that carries the header.
_IDEMPOTENCY_ERRORS = [
    (400, "idempotency_key_invalid", "the Idempotency-Key is not 1-255 printable characters"),
    (409, "idempotency_request_in_progress", "the first request with this key is still running: send it again "
                                             "after Retry-After seconds"),
    (422, "idempotency_key_reused", "this Idempotency-Key came with a different request"),
]
# Every POST under /api/ may carry one (core/idempotency.py, docs/api-conventions.md): in the schema, so a generated
# client has the argument and its documentation says when to send one.
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    OpenApiParameter.HEADER,
    description="Makes a retry safe: send a fresh UUID v4 with each new action and the same key when you retry it "
                "after a timeout or a lost connection. The retry gets the first answer again (header "
                "`Idempotent-Replayed: true`) and nothing runs twice. Keys are kept for 24 hours (the server's "
                "IDEMPOTENCY_KEY_TTL_HOURS).",
)


class AutoSchema(drf_spectacular.openapi.AutoSchema):
    """drf-spectacular's AutoSchema with the project's operation ids (above), the ``Idempotency-Key`` header on every
    POST, and every error code an operation can answer, listed per status.

    Each error status gets the error envelope, a description naming its codes and ``x-error-codes``: the codes as a
    list (a generated client or a test reads them there). The codes are the framework's, from what the view
    declares (``_framework_errors``), the idempotency middleware's on a POST, and the domain errors in the view's
    ``domain_errors`` (``_domain_errors``), and those a view documents itself with ``error_responses`` (its
    description is then the codes' list, with their messages). A status the view documents keeps its body.
    """

    def get_operation_id(self) -> str:
        path = re.sub(f"^{spectacular_settings.SCHEMA_PATH_PREFIX}", "", self.path)
        if (self.method, path) in OPERATION_IDS:
            return OPERATION_IDS[self.method, path]
        default = super().get_operation_id().replace(".", "_")
        for theirs, ours in _ACTION_SUFFIXES.items():
            if default.endswith(f"_{theirs}"):
                base = default.removesuffix(f"_{theirs}")
                if theirs == "create" and base.rpartition("_")[2] in ACTION_WORDS:
                    return base
                return f"{base}_{ours}"
        return default

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and self.path.startswith("/api/"):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        errors = self._framework_errors(operation)
        for status, codes in self._domain_errors().items():
            errors.setdefault(status, [])
            errors[status] += [(code, message) for code, message in codes if code not in dict(errors[status])]
        if self.method == "POST" and self.path.startswith("/api/"):
            for status, code, message in _IDEMPOTENCY_ERRORS:
                errors.setdefault(status, []).append((code, message))
        for status_text in responses:
            if int(status_text) >= 400:
                errors.setdefault(int(status_text), [])
        for status, codes in sorted(errors.items()):
            response = responses.setdefault(str(status), {"description": ""})
            response.setdefault("content", {"application/json": {"schema": self._error_ref()}})
            own = response["description"].split(", ") if _CODE_LIST.fullmatch(response["description"]) else []
            known = dict(codes)
            errors[status] = [(code, known.get(code, "")) for code in own] + [(c, m) for c, m in codes if c not in own]
            if own or not response["description"]:
                response["description"] = "\n".join(f"- `{code}`" + (f": {message}" if message else "")
                                                     for code, message in errors[status])
            response["x-error-codes"] = [code for code, _ in errors[status]]
        if errors:  # a generated client's docstring shows the description, not the responses
            listed = "\n".join(f"- {status}: {', '.join(code for code, _ in codes)}"
                                for status, codes in sorted(errors.items()))
            operation["description"] = "\n\n".join(filter(None, [
                operation.get("description"), f"Error codes (`error.code`) by status:\n{listed}"]))
        return operation

    def _domain_errors(self) -> dict[int, list[tuple[str, str]]]:
        """The view's ``domain_errors``: the DomainError classes its operations answer with (a tuple for every method,
        or a dict by method name), as ``status: [(code, message)]``."""
        declared = getattr(self.view, "domain_errors", ())
        if isinstance(declared, dict):
            declared = declared.get(self.method.lower(), ())
        by_status: dict[int, list[tuple[str, str]]] = {}
        for error in declared:
            codes = by_status.setdefault(error.status, [])
            if error.code not in dict(codes):
                codes.append((error.code, error.message))
        return by_status

    def _error_ref(self) -> dict[str, str]:
        return self.resolve_serializer(ErrorOut, "response").ref

    def _framework_errors(self, operation: dict[str, Any]) -> dict[int, list[tuple[str, str]]]:
        view, method = self.view, self.method.upper()
        parameters = operation.get("parameters", [])
        errors: dict[int, list[tuple[str, str]]] = {}
        takes_body = method in _BODY_METHODS and "requestBody" in operation
        if takes_body or any(p.get("in") == "query" for p in parameters):
            errors[400] = [("validation_error", "a field is missing or invalid (details.fields)"),
                           ("malformed_request", "the body is not valid JSON or form data")]
            if any(p.get("name") == "cursor" for p in parameters):
                errors[400].append(("cursor_invalid", "a cursor the server did not issue"))
        if view.get_authenticators():
            errors[401] = [("not_authenticated", "no credentials"),
                           ("authentication_failed", "bad credentials"),
                           ("token_not_valid", "the access token is expired or revoked: refresh it")]
        if any(type(p).__name__ not in _OPEN_PERMISSIONS for p in view.get_permissions()):
            errors[403] = [("permission_denied", "the caller lacks the role this operation needs")]
        if any(p.get("in") == "path" for p in parameters):
            errors[404] = [("not_found", "no such object, or not visible to this caller")]
        if takes_body:
            errors[413] = [("request_too_large", "the body is over DATA_UPLOAD_MAX_MEMORY_SIZE")]
            errors[415] = [("unsupported_media_type", "the body is not in a media type the operation reads")]
        if view.get_throttles():
            errors[429] = [("throttled", "too many requests; retry after Retry-After seconds")]
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


def name_request_components(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: request bodies keep their serializer's name (``RideStartIn``, ``MeUpdateIn``).

    ``COMPONENT_SPLIT_REQUEST`` gives every request component a ``Request`` suffix (and a partial one a ``Patched``
    prefix) so it can differ from the response's; our input serializers are named ``...In`` already, so the suffix
    only makes a generated client's models read badly (``RideStartInRequest``). A shape used both ways gets ``In``
    on its request side (``MoneyIn``); a name stays as it is where the short one is taken.
    """
    schemas = result.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in list(schemas):
        if not name.endswith("Request"):
            continue
        short = name.removesuffix("Request")
        if short.startswith("Patched") and short.removeprefix("Patched") not in schemas:
            short = short.removeprefix("Patched")
        if short in schemas and not short.endswith("In"):
            short += "In"  # a shape used both ways (Money): its request side is MoneyIn
        if short not in schemas and short not in renames.values():
            renames[name] = short
    if not renames:
        return result
    result["components"]["schemas"] = {renames.get(name, name): schema for name, schema in schemas.items()}
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}
    return _rewrite_refs(result, refs)  # type: ignore[no-any-return]


def _rewrite_refs(node: Any, refs: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: refs.get(value, value) if key == "$ref" else _rewrite_refs(value, refs)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(item, refs) for item in node]
    return node


def reference_parameter_enums(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: a query parameter whose choices are those of an enum component refers to it.

    drf-spectacular names enums of bodies only; a parameter's stays inline, and a generated client makes it a type
    of its own per operation (``ReservationsListState`` beside ``ReservationStateEnum``).
    """
    enums = {tuple(sorted(map(str, schema["enum"]))): name
             for name, schema in result.get("components", {}).get("schemas", {}).items() if "enum" in schema}
    for operations in result["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                name = enums.get(tuple(sorted(map(str, schema.get("enum", [])))))
                if name is not None:
                    parameter["schema"] = {"$ref": f"#/components/schemas/{name}"}
    return result
