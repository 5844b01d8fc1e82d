"""Errors of the telemetry HTTP edge (rendered in the API's one envelope, docs/api-conventions.md)."""

from __future__ import annotations

from core.errors import DomainError


class VehicleAuthRequired(DomainError):
    code, status = "vehicle_auth_required", 401
    message = "Send 'Authorization: Vehicle <vehicle id or code>:<secret>'."


class VehicleAuthFailed(DomainError):
    code, status, message = "vehicle_auth_failed", 401, "Unknown vehicle or wrong (or rotated) secret."


class TelemetryMalformed(DomainError):
    code, status, message = "malformed_request", 400, "The body is not valid JSON or MessagePack."


class TelemetryEmpty(DomainError):
    code, status, message = "empty_batch", 400, "Send one message object or a non-empty list of them."


class TelemetryTooLarge(DomainError):
    code, status, message = "too_many_messages", 413, "Too many messages in one request."


class TelemetryBacklogFull(DomainError):
    """Backpressure: the shard streams hold more than ``TELEMETRY_MAX_BACKLOG`` entries (the workers are behind)."""

    code, status = "telemetry_backlog_full", 503
    message = "The telemetry pipeline is behind: send again after Retry-After seconds (keep the messages)."


class TelemetryMediaType(DomainError):
    code, status, message = "unsupported_media_type", 415, "Send application/json or application/msgpack."


class TelemetryUnavailable(DomainError):
    """Redis (the credential cache and the shard streams) did not answer: nothing of the request was queued."""

    code, status = "telemetry_unavailable", 503
    message = "The telemetry pipeline is unavailable: send again after Retry-After seconds (keep the messages)."
