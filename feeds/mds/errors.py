"""MDS errors and the MDS error body.

``/mds/`` answers errors in the shape of MDS general-information.md "Error Messages" (``models/response/error.yaml``)::

    {"version": "2.0.0", "error": "missing_param", "error_description": "...", "error_details": ["end_time"]}

``error`` is the same stable snake_case code the rest of the API puts in ``error.code`` (core/errors.py), so a
client branches on it the same way; MDS's own codes (``missing_param``, ``bad_param``, ``unregistered``) are used
where MDS names one.
A ``device_id`` outside the agency's cities is fleet's 404 ``vehicle_not_found``, as if it did not exist. Statuses follow core/errors.py; 406 is the MDS versioning refusal.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.response import Response

from core import errors as core_errors
from core.errors import DomainError

logger = logging.getLogger(__name__)


class ParamMissing(DomainError):
    """A required query parameter is absent (the hourly endpoints without their hour)."""

    code, status, message = "missing_param", 400, "A required parameter is missing."


class ParamInvalid(DomainError):
    code, status, message = "bad_param", 400, "A parameter is not valid."


class CityNotFound(DomainError):
    """``?city=`` names a city that does not exist or that this agency does not regulate (never said which)."""

    code, status, message = "city_not_found", 404, "No such city among those this agency regulates."


class NoCityInScope(DomainError):
    code, status, message = "no_city_in_scope", 403, "This agency regulates no city yet; ask the operator."


class VersionNotAcceptable(DomainError):
    code, status, message = "unsupported_version", 406, "Only MDS 2.0 is served: Accept: application/vnd.mds+json;version=2.0."


def error_body(code: str, description: str, details: list[str] | None = None) -> dict[str, Any]:
    """The MDS error object; ``error_details`` is never empty (the schema asks for one item at least)."""
    return {"error": code, "error_description": description, "error_details": details or [description]}


def _details(details: dict[str, Any]) -> list[str]:
    if isinstance(details.get("error_details"), list):
        return [str(d) for d in details["error_details"]]
    flat: list[str] = []
    for key, value in details.items():
        if isinstance(value, dict):
            flat += [f"{key}.{k}: {v}" for k, v in value.items()]
        else:
            flat.append(f"{key}: {value}")
    return flat


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """The MDS views' exception handler: core's handler decides code, status and headers; the body is MDS's.

    A bug (any other exception) is logged and answered 500 with an MDS body, as MDS asks, instead of Django's page.
    """
    response = core_errors.exception_handler(exc, context)
    if response is None:
        logger.exception("MDS request failed", exc_info=exc)
        return Response(error_body("internal_error", "Internal server error."), status=500)
    envelope = response.data["error"]
    response.data = error_body(envelope["code"], envelope["message"], _details(envelope["details"]))
    return response


class HourNotAvailable(DomainError):
    """``/trips`` or ``/events/historical`` for an hour not yet past, or in which no city of the scope operated."""

    code, status, message = "hour_not_available", 404, "This hour is not in the past, or no vehicle operated in it."


class ReportNotFound(DomainError):
    """``/reports/YYYY-MM.csv`` for a month not yet over, before operations began, or not a month at all."""

    code, status, message = "report_not_found", 404, "No report for this month."


class PathNotFound(DomainError):
    """No MDS endpoint at this path (answered in MDS's shape, not the site's HTML 404)."""

    code, status, message = "not_found", 404, "No MDS endpoint at this path."
