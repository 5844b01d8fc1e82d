"""Staff operations (refunds, goodwill) and ride receipts (JSON and a printable HTML page)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors as account_selectors
from accounts.auth import JWTAuthentication, signed_in_user
from accounts.permissions import HasPerm
from billing import errors
from billing.models import RideBilling
from billing.serializers import ops as ops_serializers
from billing.services import receipts, refunds
from billing.views import inputs
from core import errors as core_errors
from core.money import money
from fleet import selectors as fleet_selectors


class RideRefundView(APIView):
    domain_errors = (errors.RideNotCharged, errors.RefundExceedsCharge, errors.RefundFailed, errors.AmountInvalid, errors.CurrencyMismatch,
                     errors.SelfActionForbidden, errors.FinanceRoleRequired, errors.RideBillingNotFound)
    permission_classes = [HasPerm("billing.refund")]

    @extend_schema(request=ops_serializers.RefundIn, responses={201: ops_serializers.RefundOut},
                   tags=["billing-ops"],
                   summary="Refund (part of) a ride's charge: to the card first, the rest to the wallet")
    def post(self, request: Request, ride_id: UUID) -> Response:
        data = inputs.valid_body(ops_serializers.RefundIn, request)
        amount, currency = data["amount"]
        billing = RideBilling.objects.filter(ride_id=ride_id).first()
        if not fleet_selectors.staff_sees_city(user=request.user, city_id=billing.city_id if billing else None):
            raise errors.RideBillingNotFound()  # a ride of another city, or none: the same answer
        if billing is not None and billing.currency != currency:
            raise errors.CurrencyMismatch(expected=billing.currency, got=currency)
        refund = refunds.refund_ride(ride_id=ride_id, amount=amount, reason=data["reason"], actor=signed_in_user(request))
        c = refund.currency
        body = {"id": refund.pk, "ride_id": refund.ride_id, "status": refund.status, "reason": refund.reason,
                "amount": money(refund.amount, c), "to_card": money(refund.card_amount, c),
                "to_wallet": money(refund.wallet_amount, c)}
        return Response(ops_serializers.RefundOut(body).data, status=status.HTTP_201_CREATED)


class GoodwillGrantView(APIView):
    domain_errors = (errors.AmountInvalid, core_errors.NotFound, errors.SelfActionForbidden, errors.FinanceRoleRequired)
    permission_classes = [HasPerm("billing.grant_goodwill")]

    @extend_schema(request=ops_serializers.GoodwillIn, responses={201: ops_serializers.GoodwillOut},
                   tags=["billing-ops"], summary="Grant goodwill credit (bonus) to a rider")
    def post(self, request: Request) -> Response:
        data = inputs.valid_body(ops_serializers.GoodwillIn, request)
        user = account_selectors.user_get(user_id=data["user"])
        if user is None:
            raise errors.NotFound("User not found.")
        amount, currency = data["amount"]
        txn = refunds.goodwill_grant(user=user, amount=amount, currency=currency, reason=data["reason"],
                                     actor=signed_in_user(request))
        body = {"transaction_id": txn.pk, "amount": money(amount, currency)}
        return Response(ops_serializers.GoodwillOut(body).data, status=status.HTTP_201_CREATED)


def _receipt_visible(request: Request, ride_id: UUID) -> dict[str, Any]:
    """The rider's own receipt, or a receipt of their cities for staff who may read ride billing; 404 otherwise."""
    user = request.user
    owner, city_id = RideBilling.objects.filter(ride_id=ride_id).values_list("user_id", "city_id").first() or (None, None)
    if owner is None or (owner != user.pk and not (user.has_perm("billing.view_ridebilling")
                                                   and fleet_selectors.staff_sees_city(user=user, city_id=city_id))):
        raise errors.RideBillingNotFound()
    return receipts.receipt_for_ride(ride_id)


class RideReceiptView(APIView):
    domain_errors = (errors.RideBillingNotFound, errors.RideNotCharged)
    @extend_schema(responses=OpenApiTypes.OBJECT, tags=["billing"], summary="Itemised receipt of a ride (JSON)")
    def get(self, request: Request, ride_id: UUID) -> Response:
        return Response(_receipt_visible(request, ride_id))


class RideReceiptHtmlView(APIView):
    domain_errors = (errors.RideBillingNotFound, errors.RideNotCharged)
    authentication_classes = [JWTAuthentication, SessionAuthentication]
    renderer_classes = [TemplateHTMLRenderer]

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR}, tags=["billing"],
                   summary="Printable receipt of a ride (HTML)")
    def get(self, request: Request, ride_id: UUID) -> Response:
        return Response({"receipt": _receipt_visible(request, ride_id)}, template_name="billing/receipt.html")

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        # Only a receipt has a template: errors (401, 404) and OPTIONS keep the API's JSON envelope.
        if isinstance(response, Response) and response.template_name is None:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
