"""``/mds/reports/YYYY-MM.csv``: a month's counts as CSV (``text/vnd.mds+csv;version=2.0``, ``feeds.mds.reports``).

404 ``report_not_found`` for a month not yet over in the agency's time zone, one before operations began, or a file
name that is not a month. Errors are MDS JSON like every other ``/mds/`` answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from feeds.mds import errors, records, renderers, reports
from feeds.mds.views.base import MdsView
from fleet import selectors as fleet_selectors

_CSV_TYPES = {"text/vnd.mds+csv", "text/csv", "text/*", "*/*"}  # without a version


def csv_version_accepted(header: str | None) -> bool:
    """``Accept`` admits the MDS 2.0 CSV: ``text/vnd.mds+csv;version=2.0`` (another version is refused), or
    ``text/csv``, ``*/*``, none (MDS general-information.md "Versioning": /reports is the CSV exception). A client
    sending the JSON media type of 2.0 on every call gets the CSV too; with another version it is refused."""
    if not header or not header.strip():
        return True
    for media_type, params in renderers._parse_accept(header):
        version = params.get("version")
        if media_type in ("text/vnd.mds+csv", "application/vnd.mds+json") and version is not None:
            if version == "2.0":
                return True
        elif media_type in _CSV_TYPES:
            return True
    return False


class _CsvNegotiation(renderers.MdsContentNegotiation):
    def select_renderer(self, request: Request, renderers_: Iterable[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, str]:
        if not csv_version_accepted(request.META.get("HTTP_ACCEPT")):
            raise errors.VersionNotAcceptable(accept=request.META.get("HTTP_ACCEPT", ""))
        renderer = next(iter(renderers_))  # errors: MDS JSON
        return renderer, renderer.media_type


def _month(filename: str) -> date:
    if not filename.endswith(".csv"):
        raise errors.ReportNotFound(error_details=[filename])
    try:
        year, month = filename.removesuffix(".csv").split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise errors.ReportNotFound(error_details=[filename]) from None


class MdsReportView(MdsView):
    content_negotiation_class = _CsvNegotiation
    domain_errors = (*MdsView.domain_errors, errors.ReportNotFound)

    @extend_schema(operation_id="mds_report", tags=["mds"], parameters=[
        OpenApiParameter("filename", str, OpenApiParameter.PATH, description="`YYYY-MM.csv`: the month"),
        OpenApiParameter("city", str, description="Slug of one of the agency's cities (default: all of them)"),
    ], responses={200: OpenApiResponse(OpenApiTypes.STR, description="CSV with the MDS report header")},
        summary="MDS /reports/YYYY-MM.csv: a month's trip and rider counts, under 10 written -1")
    def get(self, request: Request, filename: str) -> HttpResponse:
        month = _month(filename)
        cities = fleet_selectors.city_timezones(city_ids=self.city_ids)
        if not reports.report_available(cities=cities, month=month, now=timezone.now()):
            raise errors.ReportNotFound(error_details=[filename])
        text = reports.report_csv(cities=cities, provider_id=records.provider_id(), month=month)
        self.rows = text.count("\n") - 1
        return HttpResponse(text.encode(), content_type=renderers.CSV_MEDIA_TYPE)
