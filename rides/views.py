"""Rides HTTP edge: parse, call one service or selector, serialize. One view per operation."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import signed_in_user
from accounts.permissions import HasPerm
from billing import errors as billing_errors
from core import conditional, uploads
from core.pagination import CursorPagination
from core.parsers import JSONParser, MultiPartParser
from fleet import errors as fleet_errors
from rides import errors, selectors, serializers, services
from rides.models import Reservation, Ride, RideState

TAGS = ["rides"]
# How long an app waits before asking again about a ride waiting for its vehicle (a command usually answers
# within seconds). The ride socket (docs/live.md) tells the outcome at once and makes polling unnecessary.
POLL_RETRY_AFTER_S = 2
# Part of every ETag here: bump it when what an answer shows for the same rows changes (a field added or renamed),
# so an app holding a tag from before the deploy gets the new answer rather than a 304.
REPRESENTATION = 1


def _valid(serializer_class: type[Any], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _own(request: Request, ride_id: uuid.UUID) -> Ride:
    return selectors.ride_get_for_rider(rider=signed_in_user(request), ride_id=ride_id)


class RideStartView(APIView):
    domain_errors = (errors.VehicleNotFound, errors.ReservationNotFound, errors.RideAlreadyOpen, errors.ReservationAlreadyActive, errors.ReservationStateConflict, errors.RideStartInProgress, errors.VehicleUnavailable, errors.RiderNotActive, errors.RiderTooYoung, errors.RiderBirthDateMissing, errors.BatteryTooLow, errors.StartNotAllowedHere, errors.TariffMissing, errors.VehiclePositionUnknown, billing_errors.NoPaymentMethod, billing_errors.OutstandingDebt, billing_errors.InsufficientFunds, billing_errors.PaymentActionRequired, billing_errors.PaymentProviderUnavailable)
    @extend_schema(request=serializers.RideStartIn, responses={201: serializers.RideOut}, tags=TAGS,
                   summary="Start a ride by vehicle code or from your reservation (ride is 'unlocking' until the ack)")
    def post(self, request: Request) -> Response:
        data = _valid(serializers.RideStartIn, request.data)
        ride = services.ride_start(rider=signed_in_user(request), code=data.get("code"),
                                   reservation_id=data.get("reservation_id"))
        return Response(serializers.RideOut(ride).data, status=status.HTTP_201_CREATED)


class RidePauseView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict, fleet_errors.VehicleMoving)
    @extend_schema(request=None, responses=serializers.RideOut, tags=TAGS,
                   summary="Pause (lock) an active ride; a paused ride answers as it is (a repeated tap)")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = services.ride_pause(ride_id=ride_id, rider=signed_in_user(request))  # 404 unless it is theirs
        return Response(serializers.RideOut(ride).data)


class RideResumeView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict)
    @extend_schema(request=None, responses=serializers.RideOut, tags=TAGS,
                   summary="Resume (unlock) a paused ride; an active ride answers as it is (a repeated tap)")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = services.ride_resume(ride_id=ride_id, rider=signed_in_user(request))
        return Response(serializers.RideOut(ride).data)


class RideEndView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict, errors.VehiclePositionUnknown, errors.EndOutsideOperatingArea, errors.EndInNoParkingZone, errors.EndAwayFromParking, errors.EndNotAllowedHere, errors.ParkingPhotoRequired, fleet_errors.VehicleMoving,
                     uploads.UploadTooLarge, uploads.UploadTypeUnsupported)
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": serializers.RideEndIn, "application/json": serializers.RideEndIn},
                   responses={202: OpenApiResponse(serializers.RideOut, description="The end is requested: 'locking' "
                                                   "until the vehicle confirms the lock (also a repeated tap then)"),
                              200: OpenApiResponse(serializers.RideOut, description="The ride had already ended (a "
                                                   "repeated tap, or ended by ops or automatically: end_reason)")},
                   tags=TAGS,
                   summary="End the ride: checked against the zones; 'locking' until the vehicle confirms the lock")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        data = _valid(serializers.RideEndIn, request.data)
        ride = services.ride_end(ride_id=ride_id, rider=signed_in_user(request), photo=data.get("photo"))
        code = status.HTTP_200_OK if ride.state == RideState.ENDED else status.HTTP_202_ACCEPTED
        return Response(serializers.RideOut(ride).data, status=code)


class RideListView(generics.ListAPIView[Ride]):
    serializer_class = serializers.RideOut
    pagination_class = CursorPagination

    @extend_schema(tags=TAGS, summary="Your rides, newest first (cursor pagination)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return selectors.rides_for_rider(rider=signed_in_user(self.request))


def _ride_etag(ride: Ride) -> str:
    """The row's version (bumped by the database on every change) and the states of its commands (other rows)."""
    return conditional.weak_etag("ride", REPRESENTATION, ride.id, ride.version,
                                 getattr(ride, "unlock_command_state", None), getattr(ride, "lock_command_state", None))


def _retry_after(ride: Ride | None) -> int | None:
    return POLL_RETRY_AFTER_S if ride is not None and selectors.ride_command_pending(ride) else None


class RideDetailView(APIView):
    domain_errors = (errors.RideNotFound,)
    @extend_schema(parameters=[conditional.IF_NONE_MATCH],
                   responses={200: serializers.RideDetailOut, 304: conditional.NOT_MODIFIED}, tags=TAGS,
                   summary="One ride's status, itemised receipt and MDS trip record, without its track (the rider's "
                           "own; staff with rides.view_ride read any). ETag / If-None-Match; Retry-After while it "
                           "waits for its vehicle")
    def get(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = selectors.ride_status_get(user=signed_in_user(request), ride_id=ride_id)

        def body() -> dict[str, Any]:
            data = dict(serializers.RideStatusOut(ride).data)
            data.update(receipt=ride.fare, tariff=ride.tariff,
                        trip=selectors.mds_trip(ride=ride, request_base=request.build_absolute_uri("/")[:-1]))
            return data

        return conditional.respond(request, _ride_etag(ride), body, retry_after_s=_retry_after(ride))


class RideTrackView(APIView):
    domain_errors = (errors.RideNotFound,)
    @extend_schema(parameters=[conditional.IF_NONE_MATCH],
                   responses={200: serializers.RideTrackOut, 304: conditional.NOT_MODIFIED}, tags=TAGS,
                   summary="The ride's track, simplified, as GeoJSON (grows while the ride is open). ETag / "
                           "If-None-Match")
    def get(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = selectors.ride_get_for_viewer(user=signed_in_user(request), ride_id=ride_id)
        points, last = selectors.track_stamp(ride_id=ride.id)

        def body() -> dict[str, Any]:
            return {"ride_id": str(ride.id), "points": points, "track": selectors.track_geojson(ride_id=ride.id)}

        etag = conditional.weak_etag("track", REPRESENTATION, ride.id, points, last, settings.RIDES_TRACK_SIMPLIFY_M)
        return conditional.respond(request, etag, body)


class RideRatingView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict, errors.RatingExists)
    @extend_schema(request=serializers.RideRatingIn, responses={201: serializers.RideRatingIn}, tags=TAGS,
                   summary="Rate an ended ride (once)")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        data = _valid(serializers.RideRatingIn, request.data)
        rating = services.ride_rate(rider=signed_in_user(request), ride_id=ride_id, **data)
        return Response({"stars": rating.stars, "comment": rating.comment}, status=status.HTTP_201_CREATED)


class RideProblemView(APIView):
    domain_errors = (errors.RideNotFound, uploads.UploadTooLarge, uploads.UploadTypeUnsupported)
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": serializers.RideProblemIn}, responses={201: serializers.RideProblemOut},
                   tags=TAGS, summary="Report a problem with the vehicle (marks it for inspection)")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        data = _valid(serializers.RideProblemIn, request.data)
        report = services.ride_problem_report(rider=signed_in_user(request), ride_id=ride_id, **data)
        return Response(serializers.RideProblemOut(report).data, status=status.HTTP_201_CREATED)


class RideForceEndView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict)
    permission_classes = [HasPerm("rides.force_end_ride")]

    @extend_schema(request=serializers.RideForceEndIn, responses=serializers.RideOut, tags=["rides ops"],
                   summary="Ops: end a stuck ride now, with a reason (no zone rules, lock sent best-effort)")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        data = _valid(serializers.RideForceEndIn, request.data)
        selectors.ride_staff_check(user=signed_in_user(request), ride_id=ride_id)
        ride = services.ride_force_end(ride_id=ride_id, actor=signed_in_user(request), reason=data["reason"])
        return Response(serializers.RideOut(ride).data)


def _reservation_etag(reservation: Reservation) -> str:
    """The row's version, and where its vehicle stands while it is active (the answer shows it then)."""
    vehicle = reservation.vehicle
    where = ((vehicle.lat, vehicle.lon, vehicle.battery_pct, vehicle.range_meters)
             if reservation.state == Reservation.State.ACTIVE else None)
    return conditional.weak_etag("reservation", REPRESENTATION, reservation.id, reservation.version, where)


class ReservationListCreateView(generics.ListAPIView[Reservation]):
    domain_errors = {"post": (errors.VehicleNotFound, errors.RideAlreadyOpen, errors.ReservationAlreadyActive, errors.ReservationCooldown, errors.VehicleUnavailable, errors.RiderNotActive, errors.RiderTooYoung, errors.RiderBirthDateMissing, errors.BatteryTooLow, errors.StartNotAllowedHere, errors.VehiclePositionUnknown, billing_errors.NoPaymentMethod, billing_errors.OutstandingDebt)}
    serializer_class = serializers.ReservationOut
    pagination_class = CursorPagination

    @extend_schema(parameters=[serializers.ReservationListIn], tags=TAGS,
                   summary="Your reservations, newest first (cursor pagination), of one state if asked")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        query = _valid(serializers.ReservationListIn, self.request.query_params)
        return selectors.reservations_for_rider(rider=signed_in_user(self.request), state=query.get("state"))

    @extend_schema(request=serializers.ReservationCreateIn, responses={201: serializers.ReservationOut}, tags=TAGS,
                   summary="Reserve a vehicle for the city's hold time")
    def post(self, request: Request) -> Response:
        data = _valid(serializers.ReservationCreateIn, request.data)
        reservation = services.reservation_create(rider=signed_in_user(request), code=data["code"])
        return Response(serializers.ReservationOut(reservation).data, status=status.HTTP_201_CREATED)


class ReservationDetailView(APIView):
    domain_errors = (errors.ReservationNotFound,)
    @extend_schema(parameters=[conditional.IF_NONE_MATCH],
                   responses={200: serializers.ReservationOut, 304: conditional.NOT_MODIFIED}, tags=TAGS,
                   summary="One of your reservations: its vehicle while active, why it closed. ETag / If-None-Match")
    def get(self, request: Request, reservation_id: uuid.UUID) -> Response:
        reservation = selectors.reservation_get_for_rider(rider=signed_in_user(request), reservation_id=reservation_id)
        return conditional.respond(request, _reservation_etag(reservation),
                                   lambda: serializers.ReservationOut(reservation).data)


class CurrentView(APIView):
    @extend_schema(parameters=[conditional.IF_NONE_MATCH],
                   responses={200: serializers.CurrentOut, 304: conditional.NOT_MODIFIED}, tags=TAGS,
                   summary="What an app calls on launch: your open ride and your active reservation (each null when "
                           "none). ETag / If-None-Match; Retry-After while the ride waits for its vehicle")
    def get(self, request: Request) -> Response:
        rider = signed_in_user(request)
        ride = selectors.ride_open_for_rider(rider=rider)
        reservation = selectors.reservation_active_for_rider(rider=rider)
        etag = conditional.weak_etag("current", ride and _ride_etag(ride),
                                     reservation and _reservation_etag(reservation))

        def body() -> dict[str, Any]:
            return {"ride": None if ride is None else serializers.RideStatusOut(ride).data,
                    "reservation": None if reservation is None else serializers.ReservationOut(reservation).data}

        return conditional.respond(request, etag, body, retry_after_s=_retry_after(ride))


class ReservationCancelView(APIView):
    domain_errors = (errors.ReservationNotFound, errors.ReservationStateConflict)
    @extend_schema(request=None, responses=serializers.ReservationOut, tags=TAGS, summary="Cancel your reservation")
    def post(self, request: Request, reservation_id: uuid.UUID) -> Response:
        reservation = services.reservation_cancel(rider=signed_in_user(request),
                                                  reservation_id=reservation_id)
        return Response(serializers.ReservationOut(reservation).data)
