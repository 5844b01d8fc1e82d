"""OpenAPI pieces shared by every app: the error envelope of core/errors.py as a schema component."""

from __future__ import annotations

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
