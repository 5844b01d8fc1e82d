"""``/mds/telemetry?telemetry_time=YYYY-MM-DDTHH``: one UTC hour of telemetry, streamed (``feeds.mds.telemetry``).

MDS lists no 202/404 for ``/telemetry``: any hour answers 200 with what the history holds for it (an hour not yet
past or still draining gives what is stored so far).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from feeds.mds import errors, hours, records, renderers, telemetry
from feeds.mds.views.base import MdsView

TelemetryOut = inline_serializer("MdsTelemetryOut", {
    "version": serializers.CharField(),
    "telemetry": serializers.ListField(child=serializers.DictField(),
                                       help_text="MDS 2.0 models/telemetry.yaml objects (mds-openapi)"),
})


class MdsTelemetryView(MdsView):
    domain_errors = (*MdsView.domain_errors, errors.ParamMissing)

    @extend_schema(operation_id="mds_telemetry", tags=["mds"], parameters=[
        OpenApiParameter("telemetry_time", str, required=True, description="The UTC hour, `YYYY-MM-DDTHH`"),
        OpenApiParameter("city", str, description="Slug of one of the agency's cities (default: all of them)"),
    ], responses={200: TelemetryOut}, summary="MDS /telemetry: every point of one UTC hour (streamed)")
    def get(self, request: Request) -> StreamingHttpResponse:
        start = hours.hour_param(request.query_params, "telemetry_time")
        body = telemetry.telemetry_body(city_ids=self.city_ids, provider_id=records.provider_id(), start=start,
                                        version=renderers.VERSION)
        self.rows = 0
        return StreamingHttpResponse(self._audited(self._counted(body)), content_type=renderers.MEDIA_TYPE)

    def _counted(self, body: Generator[tuple[bytes, int]]) -> Iterator[bytes]:
        try:
            for piece, points in body:
                self.rows = (self.rows or 0) + points  # counted as sent once handed to the server
                yield piece
        finally:
            body.close()
