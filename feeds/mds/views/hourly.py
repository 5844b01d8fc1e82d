"""``/mds/trips?end_time=`` and ``/mds/events/historical?event_time=``: one past UTC hour, never paginated.

404 ``hour_not_available`` for an hour not yet past or before the scope's cities operated, 202 (``Retry-After``)
while the hour's data may still change, 200 with the (maybe empty) list otherwise (``feeds.mds.hours``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from feeds.mds import errors, events, hours, records, trips
from feeds.mds.views.base import MdsView

_CITY = OpenApiParameter("city", str, description="Slug of one of the agency's cities (default: all of them)")
_PENDING = OpenApiResponse(description="The hour is past but its data is not complete yet: ask again after "
                                       "`Retry-After` seconds")


def _hour(name: str, what: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, required=True, description=f"{what} in this UTC hour, `YYYY-MM-DDTHH`")


def _objects(model: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.DictField(), help_text=f"MDS 2.0 {model} objects (mds-openapi)")


TripsOut = inline_serializer("MdsTripsOut", {"version": serializers.CharField(),
                                             "trips": _objects("models/trip.yaml")})
EventsOut = inline_serializer("MdsEventsOut", {"version": serializers.CharField(),
                                               "events": _objects("models/event.yaml")})


class _HourlyView(MdsView):
    domain_errors = (*MdsView.domain_errors, errors.ParamMissing, errors.HourNotAvailable)
    hour_parameter = ""
    for_trips = False

    def hour_or_answer(self, request: Request) -> tuple[datetime | None, Response | None]:
        """The hour asked for when its data can be served, else the 202 answer (or 404 raised)."""
        start = hours.hour_param(request.query_params, self.hour_parameter)
        now = timezone.now()
        state = hours.hour_state(city_ids=self.city_ids, start=start, now=now, trips=self.for_trips)
        if state in (hours.HourState.FUTURE, hours.HourState.NOT_OPERATED):
            raise errors.HourNotAvailable(error_details=[f"{self.hour_parameter}: {state.value}"])
        if state == hours.HourState.PENDING:
            response = self.answer({}, status=202)
            response["Retry-After"] = str(hours.retry_after_s(start=start, now=now))
            return None, response
        return start, None


class MdsTripsView(_HourlyView):
    hour_parameter, for_trips = "end_time", True

    @extend_schema(operation_id="mds_trips", tags=["mds"], parameters=[_hour("end_time", "Trips that ended"), _CITY],
                   responses={200: TripsOut, 202: _PENDING},
                   summary="MDS /trips: the trips that ended in one past UTC hour (not paginated)")
    def get(self, request: Request) -> Response:
        start, pending = self.hour_or_answer(request)
        if start is None:
            assert pending is not None
            return pending
        found = trips.trips_ended_in_hour(city_ids=self.city_ids, provider_id=records.provider_id(), start=start,
                                          request_base=request.build_absolute_uri("/")[:-1])
        return self.answer({"trips": found}, rows=len(found))


class MdsEventsHistoricalView(_HourlyView):
    hour_parameter = "event_time"

    @extend_schema(operation_id="mds_events_historical", tags=["mds"],
                   parameters=[_hour("event_time", "Events that happened"), _CITY],
                   responses={200: EventsOut, 202: _PENDING},
                   summary="MDS /events/historical: the vehicle events of one past UTC hour (not paginated)")
    def get(self, request: Request) -> Response:
        start, pending = self.hour_or_answer(request)
        if start is None:
            assert pending is not None
            return pending
        found: list[dict[str, Any]] = events.events_in_hour(city_ids=self.city_ids, provider_id=records.provider_id(),
                                                             start=start)
        return self.answer({"events": found}, rows=len(found))
