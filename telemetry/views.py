"""``POST /api/v1/telemetry``: the HTTP edge of the pipeline. Hot path: no PostgreSQL, no serializer.

The vehicle authenticates with ``Authorization: Vehicle <vehicle id or code>:<secret>`` (its IoT credential
from the fleet app, checked against a Redis-cached hash); the body is one message object or a list of them,
JSON or MessagePack (``Content-Type: application/msgpack``). The answer is 202 with how many were accepted
and an error per rejected message; the accepted ones are in a Redis stream when it is sent.
"""

from __future__ import annotations

import msgpack
import redis
from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import TOO_LARGE
from core.parsers import JSONParser, json_loads
from core.schema import error_responses
from fleet import selectors as fleet_selectors
from telemetry import errors, ingest, refusals, serializers

MSGPACK = "application/msgpack"
SCHEME = "vehicle "
UNAVAILABLE_RETRY_S = 5


class MessagePackParser(BaseParser):
    """Declared for the OpenAPI document; the view decodes the body itself."""

    media_type = MSGPACK


def _authenticate(request: Request) -> fleet_selectors.VehicleIdentity:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header[: len(SCHEME)].lower() == SCHEME or ":" not in header:
        raise errors.VehicleAuthRequired()
    identifier, _, secret = header[len(SCHEME):].strip().partition(":")
    vehicle = fleet_selectors.vehicle_authenticate(identifier, secret) if identifier and secret else None
    if vehicle is None:
        ingest.count_rejected("auth_failed")
        raise errors.VehicleAuthFailed()
    return vehicle


def _decode(request: Request) -> list[object]:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    try:
        body = request.body
    except TOO_LARGE:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: far more than TELEMETRY_MAX_REQUEST_MESSAGES
        raise errors.TelemetryTooLarge(limit=TelemetryIngestView.max_messages()) from None
    try:
        # Both decoders refuse nesting deeper than 1,024 levels with a ValueError instead of recursing; maps may
        # only have string keys (an array key would be an unhashable TypeError).
        if content_type in (MSGPACK, "application/x-msgpack"):
            payload = msgpack.unpackb(body, raw=False, strict_map_key=True)
        elif content_type in ("application/json", ""):
            payload = json_loads(body)
        else:
            raise errors.TelemetryMediaType()
    except (ValueError, msgpack.UnpackException):
        ingest.count_rejected("malformed_request")
        raise errors.TelemetryMalformed() from None
    messages = payload if isinstance(payload, list) else [payload]
    if not messages:
        raise errors.TelemetryEmpty()
    return messages


class TelemetryIngestView(APIView):
    # No JWT, session or throttle machinery: a vehicle authenticates with its own credential (_authenticate).
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    parser_classes = [JSONParser, MessagePackParser]
    domain_errors = (errors.TelemetryBacklogFull, errors.TelemetryUnavailable)  # 503, with Retry-After

    @extend_schema(
        request={"application/json": serializers.TelemetryMessageIn(many=True), MSGPACK: serializers.TelemetryMessageIn(many=True)},
        responses={202: serializers.TelemetryAcceptedOut, **error_responses(**{
            "400": "malformed_request, empty_batch", "401": "vehicle_auth_required, vehicle_auth_failed",
            "413": "too_many_messages", "415": "unsupported_media_type"})},
        parameters=[OpenApiParameter("Authorization", str, OpenApiParameter.HEADER, required=True,
                                     description="Vehicle <vehicle id or code>:<secret>")],
        # drf-spectacular shows each example as a list (the request is many=True): one message per example.
        examples=[
            OpenApiExample("A position", request_only=True, value={
                "seq": 1041, "ts": 1795438800120, "lat": 52.52, "lon": 13.405, "speed_kph": 18.2, "battery_pct": 81}),
            OpenApiExample("A command acknowledgement", request_only=True, value={
                "seq": 1042, "ts": "2026-11-23T13:00:01.120Z", "locked": True,
                "ack": {"correlation_id": "6f1c2a9e-61a4-4d2b-9a3e-0b1c2d3e4f50", "ok": True}}),
        ],
        tags=["telemetry"], summary="A vehicle sends one message or a batch (JSON or MessagePack)",
        auth=[],
    )
    def post(self, request: Request) -> Response:
        try:
            vehicle = _authenticate(request)
            messages = _decode(request)
            if len(messages) > self.max_messages():
                raise errors.TelemetryTooLarge(limit=self.max_messages())
            result = ingest.ingest(vehicle.id, messages)
        except errors.TelemetryBacklogFull:
            refusals.edge.refused(errors.TelemetryBacklogFull.code)
            raise
        except redis.RedisError as exc:
            # Redis holds the credential cache and the streams: without it nothing can be checked or queued. The unit
            # keeps its messages and sends them again; a write that went through before the failure is queued twice
            # then, and the pipeline stores and applies a (vehicle, seq, ts) once.
            refusals.edge.refused(errors.TelemetryUnavailable.code, str(exc))
            raise errors.TelemetryUnavailable(retry_after_s=UNAVAILABLE_RETRY_S) from exc
        refusals.edge.flush_if_due()
        body = {"accepted": result.accepted, "rejected": len(result.errors), "errors": result.errors}
        return Response(body, status=202)

    @staticmethod
    def max_messages() -> int:
        return int(settings.TELEMETRY_MAX_REQUEST_MESSAGES)
