"""Passes and promo codes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import signed_in_user
from billing import errors
from billing.selectors import passes as pass_selectors
from billing.serializers import passes as pass_serializers
from billing.services import passes, promos
from billing.views import inputs
from fleet import errors as fleet_errors


class PassCatalogueView(APIView):
    domain_errors = (fleet_errors.CityNotFound,)
    permission_classes = [AllowAny]

    @extend_schema(parameters=[pass_serializers.PassCatalogueIn],
                   responses=pass_serializers.PassProductOut(many=True), tags=["billing"],
                   summary="Passes on sale")
    def get(self, request: Request) -> Response:
        query = pass_serializers.PassCatalogueIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        city = query.validated_data.get("city")
        products = pass_selectors.pass_catalogue(city_slug=city.slug if city else None)
        return Response(pass_serializers.PassProductOut(products, many=True).data)


class PassBuyView(APIView):
    domain_errors = {"post": (errors.PassProductNotFound, errors.PassNotValidHere, errors.InsufficientFunds,
                              fleet_errors.CityNotFound)}
    @extend_schema(responses=pass_serializers.RiderPassOut(many=True), tags=["billing"],
                   summary="The rider's valid passes")
    def get(self, request: Request) -> Response:
        passes_valid = pass_selectors.passes_valid_for(user=signed_in_user(request))
        return Response(pass_serializers.RiderPassOut(passes_valid, many=True).data)

    @extend_schema(request=pass_serializers.PassBuyIn, responses={201: pass_serializers.RiderPassOut},
                   tags=["billing"], summary="Buy a pass, paid from the wallet (bonus first, then cash)")
    def post(self, request: Request) -> Response:
        data: dict[str, Any] = inputs.valid_body(pass_serializers.PassBuyIn, request)
        rider_pass = passes.pass_buy(user=signed_in_user(request), product_code=data["product"], city=data.get("city"))
        return Response(pass_serializers.RiderPassOut(rider_pass).data, status=status.HTTP_201_CREATED)


class PromoRedeemView(APIView):
    domain_errors = (errors.PromoCodeUnknown, errors.PromoCodeExpired, errors.PromoCodeExhausted, errors.PromoCodeAlreadyUsed, errors.PromoCodeOwn,
                     errors.SelfActionForbidden)
    @extend_schema(request=pass_serializers.PromoRedeemIn,
                   responses={201: pass_serializers.PromoRedemptionOut}, tags=["billing"],
                   summary="Redeem a promo or referral code")
    def post(self, request: Request) -> Response:
        code = inputs.valid_body(pass_serializers.PromoRedeemIn, request)["code"]
        redemption = promos.promo_redeem(user=signed_in_user(request), code=code)
        return Response(pass_serializers.PromoRedemptionOut(redemption).data, status=status.HTTP_201_CREATED)
