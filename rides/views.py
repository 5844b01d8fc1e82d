"""Rides HTTP edge: parse, call one service or selector, serialize. One view per operation."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import signed_in_user
from accounts.permissions import HasPerm
from billing import errors as billing_errors
from core import uploads
from core.pagination import CursorPagination
from core.parsers import JSONParser, MultiPartParser
from fleet import errors as fleet_errors
from rides import errors, selectors, serializers, services
from rides.models import Ride

TAGS = ["rides"]


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
    @extend_schema(request=None, responses=serializers.RideOut, tags=TAGS, summary="Pause (lock) an active ride")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = services.ride_pause(ride_id=ride_id, rider=signed_in_user(request))  # 404 unless it is theirs
        return Response(serializers.RideOut(ride).data)


class RideResumeView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict)
    @extend_schema(request=None, responses=serializers.RideOut, tags=TAGS, summary="Resume (unlock) a paused ride")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = services.ride_resume(ride_id=ride_id, rider=signed_in_user(request))
        return Response(serializers.RideOut(ride).data)


class RideEndView(APIView):
    domain_errors = (errors.RideNotFound, errors.RideStateConflict, errors.VehiclePositionUnknown, errors.EndOutsideOperatingArea, errors.EndInNoParkingZone, errors.EndAwayFromParking, errors.EndNotAllowedHere, errors.ParkingPhotoRequired, fleet_errors.VehicleMoving,
                     uploads.UploadTooLarge, uploads.UploadTypeUnsupported)
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(request={"multipart/form-data": serializers.RideEndIn, "application/json": serializers.RideEndIn},
                   responses={202: serializers.RideOut}, tags=TAGS,
                   summary="End the ride: checked against the zones; 'locking' until the vehicle confirms the lock")
    def post(self, request: Request, ride_id: uuid.UUID) -> Response:
        data = _valid(serializers.RideEndIn, request.data)
        ride = services.ride_end(ride_id=ride_id, rider=signed_in_user(request), photo=data.get("photo"))
        return Response(serializers.RideOut(ride).data, status=status.HTTP_202_ACCEPTED)


class RideListView(generics.ListAPIView[Ride]):
    serializer_class = serializers.RideOut
    pagination_class = CursorPagination

    @extend_schema(tags=TAGS, summary="Your rides, newest first (cursor pagination)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return selectors.rides_for_rider(rider=signed_in_user(self.request))


class RideDetailView(APIView):
    domain_errors = (errors.RideNotFound,)
    @extend_schema(responses=serializers.RideDetailOut, tags=TAGS,
                   summary="One ride with its simplified track, itemised receipt and MDS trip record (the rider's "
                           "own; staff with rides.view_ride read any)")
    def get(self, request: Request, ride_id: uuid.UUID) -> Response:
        ride = selectors.ride_get_for_viewer(user=signed_in_user(request), ride_id=ride_id)
        data = serializers.RideOut(ride).data
        data.update(track=selectors.track_geojson(ride_id=ride.id), receipt=ride.fare, tariff=ride.tariff,
                    trip=selectors.mds_trip(ride=ride, request_base=request.build_absolute_uri("/")[:-1]))
        return Response(data)


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


class ReservationCreateView(APIView):
    domain_errors = (errors.VehicleNotFound, errors.RideAlreadyOpen, errors.ReservationAlreadyActive, errors.ReservationCooldown, errors.VehicleUnavailable, errors.RiderNotActive, errors.RiderTooYoung, errors.RiderBirthDateMissing, errors.BatteryTooLow, errors.StartNotAllowedHere, errors.VehiclePositionUnknown, billing_errors.NoPaymentMethod, billing_errors.OutstandingDebt)
    @extend_schema(request=serializers.ReservationCreateIn, responses={201: serializers.ReservationOut}, tags=TAGS,
                   summary="Reserve a vehicle for the city's hold time")
    def post(self, request: Request) -> Response:
        data = _valid(serializers.ReservationCreateIn, request.data)
        reservation = services.reservation_create(rider=signed_in_user(request), code=data["code"])
        return Response(serializers.ReservationOut(reservation).data, status=status.HTTP_201_CREATED)


class ReservationCancelView(APIView):
    domain_errors = (errors.ReservationNotFound, errors.ReservationStateConflict)
    @extend_schema(request=None, responses=serializers.ReservationOut, tags=TAGS, summary="Cancel your reservation")
    def post(self, request: Request, reservation_id: uuid.UUID) -> Response:
        reservation = services.reservation_cancel(rider=signed_in_user(request),
                                                  reservation_id=reservation_id)
        return Response(serializers.ReservationOut(reservation).data)
