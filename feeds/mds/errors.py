"""MDS errors (placeholder until the MDS framework lands: same classes, merged then)."""

from __future__ import annotations

from core.errors import DomainError


class ParamMissing(DomainError):
    """A required query parameter is absent (the hourly endpoints without their hour)."""

    code, status, message = "missing_param", 400, "A required parameter is missing."


class ParamInvalid(DomainError):
    code, status, message = "bad_param", 400, "A parameter is not valid."
