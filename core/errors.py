"""Domain errors and the one error envelope of the API.

Every error the API returns looks like ``{"error": {"code": ..., "message": ..., "details": {...}}}``.
``code`` is a stable snake_case string a client can branch on; the HTTP status follows STYLE.md:
400 malformed, 401 unauthenticated, 403 forbidden, 404 missing or not visible, 409 state conflict,
422 well-formed input the rules refuse, 429 rate limited (with ``Retry-After``).
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every business-rule error. Subclasses set ``code``, ``status`` and a default message."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.detail_message = message or self.message
        self.details = details
        super().__init__(self.detail_message)


class NotFound(DomainError):
    code, status, message = "not_found", 404, "Not found."


class Conflict(DomainError):
    code, status, message = "conflict", 409, "The request conflicts with the current state."


class RuleViolation(DomainError):
    code, status, message = "rule_violation", 422, "The request is refused by a business rule."


class SelfActionForbidden(DomainError):
    """Staff act on other people's accounts: never credit, refund or unblock their own."""

    code, status, message = "self_action_forbidden", 403, "Staff may not do this to their own account."


class RequestTooLarge(DomainError):
    code, status, message = "request_too_large", 413, "The request body is too large."


class CursorInvalid(DomainError):
    code, status, message = "cursor_invalid", 400, "The cursor is not valid; start again from the first page."


# DRF exception class -> our code. Order matters: first isinstance match wins.
_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf_exceptions.ParseError, "malformed_request"),
    (drf_exceptions.ValidationError, "validation_error"),
    (drf_exceptions.NotAuthenticated, "not_authenticated"),
    (drf_exceptions.AuthenticationFailed, "authentication_failed"),
    (drf_exceptions.PermissionDenied, "permission_denied"),
    (drf_exceptions.NotFound, "not_found"),
    (drf_exceptions.MethodNotAllowed, "method_not_allowed"),
    (drf_exceptions.NotAcceptable, "not_acceptable"),
    (drf_exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (drf_exceptions.Throttled, "throttled"),
]


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _drf_code(exc: drf_exceptions.APIException) -> str:
    # simplejwt errors carry their own code ("token_not_valid", "user_inactive", ...): clients branch on it.
    if isinstance(exc, drf_exceptions.AuthenticationFailed) and isinstance(exc.detail, dict):
        own = exc.detail.get("code")
        if own and str(own) != "authentication_failed":
            return str(own)
    for cls, code in _DRF_CODES:
        if isinstance(exc, cls):
            return code
    return str(exc.default_code)


def _message_and_details(exc: drf_exceptions.APIException) -> tuple[str, dict[str, Any]]:
    detail = exc.detail
    if isinstance(exc, drf_exceptions.ValidationError):
        if isinstance(detail, dict):
            return "Some fields are invalid.", {"fields": detail}
        return "The request is invalid.", {"non_field_errors": detail}
    if isinstance(detail, dict):
        message = str(detail.get("detail", exc.default_detail))
        return message, {k: v for k, v in detail.items() if k not in ("detail", "code")}
    if isinstance(detail, list):
        return "; ".join(str(d) for d in detail), {}
    return str(detail), {}


# Django's refusals of oversize bodies (DATA_UPLOAD_MAX_MEMORY_SIZE, ..._NUMBER_FIELDS, ..._NUMBER_FILES) are
# SuspiciousOperations that Django would answer with its HTML 400 page.
TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: renders domain errors and DRF's own errors in the envelope."""
    if isinstance(exc, TOO_LARGE):
        exc = RequestTooLarge()
    if isinstance(exc, DomainError):
        set_rollback()
        retry = exc.details.get("retry_after_s")  # "come back later" errors (503 and the like) say when, as 429 does
        return Response(error_body(exc.code, exc.detail_message, exc.details), status=exc.status,
                        headers={"Retry-After": str(retry)} if isinstance(retry, int) else None)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    if not isinstance(exc, drf_exceptions.APIException):
        return None  # a bug: let Django log it and answer 500 through handler500
    set_rollback()
    message, details = _message_and_details(exc)
    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, drf_exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        details["retry_after_s"] = max(1, math.ceil(wait))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    elif isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return Response(error_body(_drf_code(exc), message, details), status=exc.status_code, headers=headers)
