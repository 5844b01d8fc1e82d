"""Tariff endpoints: public reads (prices are public, like the GBFS feed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import errors, selectors_tariffs, serializers_tariffs


def _query(serializer_class: type[Any], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class TariffListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[serializers_tariffs.TariffListIn], responses=serializers_tariffs.TariffOut(many=True),
                   tags=["billing"], summary="Current tariffs of a city")
    def get(self, request: Request) -> Response:
        city = _query(serializers_tariffs.TariffListIn, request)["city"]
        tariffs = selectors_tariffs.tariffs_current(city_slug=city)
        return Response(serializers_tariffs.TariffOut(tariffs, many=True).data)


class TariffQuoteView(APIView):
    domain_errors = (errors.TariffNotFound,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[serializers_tariffs.TariffQuoteIn], responses=serializers_tariffs.TariffQuoteOut,
                   tags=["billing"], summary="Price quote for a vehicle type before unlocking")
    def get(self, request: Request) -> Response:
        data = _query(serializers_tariffs.TariffQuoteIn, request)
        tariff = selectors_tariffs.tariff_current(city_slug=data["city"], vehicle_type_code=data["vehicle_type"])
        return Response(serializers_tariffs.TariffQuoteOut(serializers_tariffs.quote_body(tariff)).data)


class TariffGbfsPlansView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(parameters=[serializers_tariffs.TariffListIn], responses=dict[str, Any], tags=["billing"],
                   summary="GBFS system_pricing_plans.json of a city")
    def get(self, request: Request) -> Response:
        city = _query(serializers_tariffs.TariffListIn, request)["city"]
        return Response(selectors_tariffs.gbfs_pricing_plans(city_slug=city))
