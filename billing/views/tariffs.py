"""Tariff endpoints: public reads (prices are public, like the GBFS feed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import errors
from billing.selectors import tariffs as tariff_selectors
from billing.serializers import tariffs as tariff_serializers
from billing.views import inputs
from fleet import errors as fleet_errors


class TariffListView(APIView):
    domain_errors = (fleet_errors.CityNotFound,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[tariff_serializers.TariffListIn], responses=tariff_serializers.TariffOut(many=True),
                   tags=["billing"], summary="Current tariffs of a city")
    def get(self, request: Request) -> Response:
        city = inputs.valid_query(tariff_serializers.TariffListIn, request)["city"]
        tariffs = tariff_selectors.tariffs_current(city_slug=city.slug)
        return Response(tariff_serializers.TariffOut(tariffs, many=True).data)


class TariffQuoteView(APIView):
    domain_errors = (errors.TariffNotFound, fleet_errors.CityNotFound)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[tariff_serializers.TariffQuoteIn], responses=tariff_serializers.TariffQuoteOut,
                   tags=["billing"], summary="Price quote for a vehicle type before unlocking")
    def get(self, request: Request) -> Response:
        data = inputs.valid_query(tariff_serializers.TariffQuoteIn, request)
        tariff = tariff_selectors.tariff_current(city_slug=data["city"].slug, vehicle_type_code=data["vehicle_type"])
        return Response(tariff_serializers.TariffQuoteOut(tariff_serializers.quote_body(tariff)).data)


class TariffGbfsPlansView(APIView):
    domain_errors = (fleet_errors.CityNotFound,)
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(parameters=[tariff_serializers.TariffListIn], responses=dict[str, Any], tags=["billing"],
                   summary="GBFS system_pricing_plans.json of a city")
    def get(self, request: Request) -> Response:
        city = inputs.valid_query(tariff_serializers.TariffListIn, request)["city"]
        return Response(tariff_selectors.gbfs_pricing_plans(city_slug=city.slug))
