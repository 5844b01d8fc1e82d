"""The rider's wallet (balances, top-ups, history) and saved payment methods."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth import signed_in_user
from billing import errors
from billing.models import LedgerEntry, Payment
from billing.selectors import wallet as wallet_selectors
from billing.serializers import wallet as wallet_serializers
from billing.services import methods, settle, wallet
from billing.views import inputs
from core.pagination import CursorPagination


class WalletGetView(APIView):
    @extend_schema(responses=wallet_serializers.WalletOut, tags=["billing"],
                   summary="The rider's wallet balances")
    def get(self, request: Request) -> Response:
        currencies = (wallet_selectors.wallet_currencies(user=signed_in_user(request))
                      or [request.query_params.get("currency", "EUR")])
        balances = [wallet_selectors.wallet_balance(user=signed_in_user(request), currency=c)
                    for c in currencies]
        body = {"balances": balances, "spending_order": ["bonus", "cash", "card"]}
        return Response(wallet_serializers.WalletOut(body).data)


class WalletTopUpView(APIView):
    domain_errors = (errors.AmountInvalid, errors.PaymentMethodNotFound, errors.NoPaymentMethod, errors.PaymentProviderUnavailable)
    @extend_schema(
        request=wallet_serializers.WalletTopUpIn,
        responses={201: wallet_serializers.PaymentOut,
                   202: OpenApiResponse(wallet_serializers.PaymentOut, "3-D Secure needed")},
        tags=["billing"], summary="Top up the wallet from a saved card",
    )
    def post(self, request: Request) -> Response:
        data = inputs.valid_body(wallet_serializers.WalletTopUpIn, request)
        amount, currency = data["amount"]
        payment = wallet.wallet_top_up(
            user=signed_in_user(request), amount=amount, currency=currency, payment_method_id=data["payment_method"]
        )
        code = status.HTTP_201_CREATED if payment.status == Payment.Status.CAPTURED else status.HTTP_202_ACCEPTED
        return Response(wallet_serializers.PaymentOut(payment).data, status=code)


class WalletSettleView(APIView):
    domain_errors = (errors.NothingToSettle, errors.SettlementInProgress, errors.SettlementCurrencyRequired,
                     errors.CurrencyMismatch, errors.NoPaymentMethod, errors.PaymentMethodNotFound,
                     errors.PaymentDeclined, errors.PaymentInsufficientFunds, errors.PaymentProviderUnavailable)

    @extend_schema(
        request=wallet_serializers.WalletSettleIn,
        responses={201: wallet_serializers.WalletSettlementOut,
                   202: OpenApiResponse(wallet_serializers.WalletSettlementOut,
                                        "3-D Secure needed: the webhook settles the debt once the rider confirms")},
        tags=["billing"], operation_id="wallet_settle",
        summary="Settle my balance: charge exactly the outstanding debt to a saved card",
    )
    def post(self, request: Request) -> Response:
        data = inputs.valid_body(wallet_serializers.WalletSettleIn, request)
        expected, expected_currency = data.get("expected", (None, None))
        currency = data.get("currency", expected_currency)
        if currency is not None and expected_currency is not None and currency.upper() != expected_currency:
            raise errors.CurrencyMismatch("`expected` is in another currency than `currency`.")
        user = signed_in_user(request)
        result = settle.wallet_settle(user=user, currency=currency and currency.upper(),
                                      payment_method_id=data.get("payment_method"), expected=expected)
        body = {"payment": result.payment, "expected": result.expected, "amount_changed": result.amount_changed,
                "balance": wallet_selectors.wallet_balance(user=user, currency=result.payment.currency)}
        code = status.HTTP_201_CREATED if result.payment.status == Payment.Status.CAPTURED else status.HTTP_202_ACCEPTED
        return Response(wallet_serializers.WalletSettlementOut(body).data, status=code)


class WalletEntryPagination(CursorPagination):
    ordering = ("-created_at", "-id")  # type: ignore[assignment]  # DRF accepts a tuple


class WalletTransactionListView(generics.ListAPIView[LedgerEntry]):
    serializer_class = wallet_serializers.WalletEntryOut
    pagination_class = WalletEntryPagination

    def get_queryset(self) -> Any:
        return wallet_selectors.wallet_entries_for(user=signed_in_user(self.request))

    @extend_schema(tags=["billing"], summary="Wallet history (ledger entries), newest first")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PaymentMethodListView(generics.ListAPIView[Any]):
    domain_errors = {"post": (errors.PaymentMethodInvalid, errors.PaymentProviderUnavailable)}
    serializer_class = wallet_serializers.PaymentMethodOut
    pagination_class = None

    def get_queryset(self) -> Any:
        return wallet_selectors.payment_methods_for(user=signed_in_user(self.request))

    @extend_schema(tags=["billing"], summary="The rider's saved payment methods")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=wallet_serializers.PaymentMethodAddIn,
                   responses={201: wallet_serializers.PaymentMethodOut},
                   tags=["billing"], summary="Save a card (becomes the default)")
    def post(self, request: Request) -> Response:
        data = inputs.valid_body(wallet_serializers.PaymentMethodAddIn, request)
        method = methods.payment_method_add(user=signed_in_user(request), token=data["token"])
        return Response(wallet_serializers.PaymentMethodOut(method).data, status=status.HTTP_201_CREATED)
