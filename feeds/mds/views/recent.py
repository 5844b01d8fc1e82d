"""``/mds/events/recent?start_time=&end_time=``: the events of a range (integer ms) within the last two weeks,
in keyset pages (``feeds.mds.pagination``) by event time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from feeds.mds import errors, events, pagination, records
from feeds.mds.views.base import MdsView
from fleet import selectors as fleet_selectors

EventsPageOut = inline_serializer("MdsEventsPageOut", {
    "version": serializers.CharField(),
    "links": inline_serializer("MdsEventsLinks", {"first": serializers.URLField(),
                                                  "next": serializers.URLField(allow_null=True)}),
    "events": serializers.ListField(child=serializers.DictField(), help_text="MDS 2.0 models/event.yaml objects"),
})


def _moment(request: Request, name: str) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        raise errors.ParamMissing(f"The {name} parameter (integer milliseconds since the epoch) is required.",
                                  error_details=[name])
    if not raw.isdigit() or len(raw) > 15:
        raise errors.ParamInvalid(f"{name} must be integer milliseconds since the epoch.", error_details=[name])
    return datetime.fromtimestamp(int(raw) / 1000, UTC)


def _event_key(parts: list[str]) -> tuple[datetime, uuid.UUID]:
    at, event_id = parts
    return datetime.fromisoformat(at), uuid.UUID(event_id)


class MdsEventsRecentView(MdsView):
    domain_errors = (*MdsView.domain_errors, errors.ParamMissing)

    @extend_schema(operation_id="mds_events_recent", tags=["mds"], parameters=[
        OpenApiParameter("start_time", int, required=True, description="Events at or after (ms since the epoch)"),
        OpenApiParameter("end_time", int, required=True, description="Events before (ms since the epoch)"),
        OpenApiParameter("city", str, description="Slug of one of the agency's cities (default: all of them)"),
        OpenApiParameter("cursor", str, description="Opaque position, from a `links.next` URL"),
        OpenApiParameter("limit", int, description=f"Log entries per page, 1-{pagination.MAX_LIMIT} "
                                                   f"(default {pagination.DEFAULT_LIMIT})"),
    ], responses={200: EventsPageOut},
        summary="MDS /events/recent: vehicle events of a range within the last two weeks (paginated)")
    def get(self, request: Request) -> Response:
        start, end = _moment(request, "start_time"), _moment(request, "end_time")
        oldest = timezone.now() - events.RECENT_LIMIT
        too_old = [name for name, at in (("start_time", start), ("end_time", end)) if at < oldest]
        if too_old:
            raise errors.ParamInvalid("/events/recent serves the last two weeks; use /events/historical before.",
                                      error_details=too_old)
        if end < start:
            raise errors.ParamInvalid("end_time is before start_time.", error_details=["start_time", "end_time"])
        rows, links = pagination.paginate(
            request, decode=_event_key, key=lambda row: [row["timestamp"].isoformat(), str(row["id"])],
            fetch=lambda after, n: list(fleet_selectors.city_events_between(
                city_ids=self.city_ids, start=start, end=end, after=after)[:n]),
        )
        found: list[dict[str, Any]] = events.mds_events(rows, provider_id=records.provider_id())
        return self.answer({"links": links, "events": found}, rows=len(found))
