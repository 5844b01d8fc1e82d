"""drf-spectacular: the agency token as a bearer scheme of its own (``mdsAgency``), MDS error bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers

from core import schema as core_schema
from feeds.mds import renderers


class AgencyTokenScheme(OpenApiAuthenticationExtension):
    target_class = "feeds.mds.auth.AgencyAuthentication"
    name = "mdsAgency"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "An MDS agency token (mds_<prefix>_<secret>), see docs/mds.md"}


MdsErrorOut = inline_serializer("MdsErrorOut", {
    "version": serializers.CharField(),
    "error": serializers.CharField(help_text="Stable snake_case code to branch on (the API's error.code)"),
    "error_description": serializers.CharField(),
    "error_details": serializers.ListField(child=serializers.CharField()),
})


class MdsAutoSchema(core_schema.AutoSchema):
    """core's AutoSchema (the statuses the framework answers), with MDS's error body and media type: ``/mds/``
    answers errors as ``models/response/error.yaml`` under ``application/vnd.mds+json;version=2.0``."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        error_ref = self.resolve_serializer(MdsErrorOut, "response").ref
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                response["content"] = {renderers.MEDIA_TYPE: {"schema": error_ref}}
        codes = {status: [code for code, _ in errors] for status, errors in self._domain_errors().items()}
        codes[401] = ["not_authenticated", "authentication_failed"]
        codes.setdefault(403, ["permission_denied"])
        for status in (400, 401, 403):
            if str(status) in operation["responses"] and status in codes:
                operation["responses"][str(status)]["description"] = ", ".join(codes[status])
                operation["responses"][str(status)]["x-error-codes"] = codes[status]
        return operation
