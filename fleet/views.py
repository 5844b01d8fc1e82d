"""Fleet HTTP edge: parse, call one selector or service, serialize."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasPerm
from fleet import selectors, serializers, services


def _valid(serializer_class: type[Any], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class VehicleNearbyView(APIView):
    @extend_schema(parameters=[serializers.VehicleNearbyIn], responses=serializers.VehicleNearbyListOut,
                   tags=["fleet"], summary="Rentable vehicles near a point, nearest first")
    def get(self, request: Request) -> Response:
        query = _valid(serializers.VehicleNearbyIn, request.query_params)
        found = selectors.vehicles_nearby(lat=query["lat"], lon=query["lon"], radius_m=query.get("radius"),
                                          vehicle_type=query.get("type"), min_battery=query.get("min_battery"))
        return Response(serializers.VehicleNearbyListOut({"results": found}).data)


class ZonesAtPointView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[serializers.ZonesAtPointIn], responses=serializers.ZoneFeatureCollectionOut,
                   tags=["fleet"], summary="Active zones containing a point (GeoJSON)")
    def get(self, request: Request) -> Response:
        query = _valid(serializers.ZonesAtPointIn, request.query_params)
        selectors.check_point(query["lat"], query["lon"])
        return Response(selectors.feature_collection(selectors.zones_at_point(lat=query["lat"], lon=query["lon"])))


class CityZonesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=serializers.ZoneFeatureCollectionOut, tags=["fleet"],
                   summary="A city's active zones as GeoJSON (GBFS geofencing_zones features)")
    def get(self, request: Request, city_id: uuid.UUID) -> Response:
        return Response(selectors.feature_collection(selectors.city_zones(city_id=city_id)))


class VehicleCommandSendView(APIView):
    permission_classes = [HasPerm("fleet.add_command")]

    @extend_schema(request=serializers.VehicleCommandIn, responses={202: serializers.VehicleCommandOut},
                   tags=["fleet ops"], summary="Queue a command to a vehicle (Idempotency-Key: same key, same command)")
    def post(self, request: Request, vehicle_id: uuid.UUID) -> Response:
        data = _valid(serializers.VehicleCommandIn, request.data)
        key = request.headers.get("Idempotency-Key")
        command = services.command_queue(
            vehicle_id=vehicle_id, kind=data["kind"], params=data.get("params"), actor=request.user,
            idempotency_key=f"api:{request.user.pk}:{key}" if key else None,
        )
        return Response(serializers.VehicleCommandOut(command).data, status=status.HTTP_202_ACCEPTED)


class CommandGetView(APIView):
    permission_classes = [HasPerm("fleet.view_command")]

    @extend_schema(responses=serializers.VehicleCommandOut, tags=["fleet ops"], summary="A command and its state")
    def get(self, request: Request, command_id: uuid.UUID) -> Response:
        command = selectors.command_get(command_id=command_id)
        return Response(serializers.VehicleCommandOut(command).data)
