"""Staff operation API shapes (refunds and goodwill credit) and a ride's receipt."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from billing.serializers.fields import BillingMoney, MoneyInField


class RefundIn(serializers.Serializer):
    amount = MoneyInField()
    reason = serializers.CharField(max_length=255)


class RefundOut(serializers.Serializer):
    id = serializers.UUIDField()
    ride_id = serializers.UUIDField()
    status = serializers.CharField()
    amount = BillingMoney()
    to_card = BillingMoney()
    to_wallet = BillingMoney()
    reason = serializers.CharField()


class GoodwillIn(serializers.Serializer):
    user = serializers.UUIDField()
    amount = MoneyInField()
    reason = serializers.CharField(max_length=200)


class GoodwillOut(serializers.Serializer):
    transaction_id = serializers.UUIDField()
    amount = BillingMoney()


class ReceiptLineOut(serializers.Serializer):
    kind = serializers.CharField(help_text="A stable key the app can localise; description is English")
    description = serializers.CharField()
    quantity = serializers.CharField(help_text="Minutes, kilometres ... as a decimal string")
    unit_price = BillingMoney(allow_null=True, help_text="null where a line has no single unit price (a cap)")
    amount = BillingMoney()


class ReceiptPaidOut(serializers.Serializer):
    wallet = BillingMoney()
    card = BillingMoney()
    outstanding = BillingMoney(help_text="Not paid yet: the rider's debt, settled by the next top-up")


class ReceiptRefundOut(serializers.Serializer):
    amount = BillingMoney()
    reason = serializers.CharField()
    at = serializers.DateTimeField()


def _eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


@extend_schema_serializer(examples=[OpenApiExample("A 12-minute ride with a pause", response_only=True, value={
    "ride_id": "8d3f6a2b-1c4e-4f7a-9b0d-2e5c7a9f1b3d", "rider": "ada@example.org", "currency": "EUR",
    "charged_at": "2026-12-07T09:14:41Z",
    "lines": [
        {"kind": "unlock", "description": "Unlock", "quantity": "1", "unit_price": _eur("1.00"), "amount": _eur("1.00")},
        {"kind": "ride", "description": "Riding, 11 min", "quantity": "11", "unit_price": _eur("0.25"),
         "amount": _eur("2.75")},
        {"kind": "pause", "description": "Paused, 2 min", "quantity": "2", "unit_price": _eur("0.10"),
         "amount": _eur("0.20")}],
    "subtotal": _eur("3.95"), "discounts": _eur("0.00"), "total": _eur("3.95"), "vat_rate": "0.19",
    "vat": _eur("0.63"), "net": _eur("3.32"),
    "paid": {"wallet": _eur("0.00"), "card": _eur("3.95"), "outstanding": _eur("0.00")}, "refunds": []})])
class ReceiptOut(serializers.Serializer):
    """What billing.services.receipts.receipt_for_ride returns: the schema of the receipt answer."""

    ride_id = serializers.UUIDField()
    rider = serializers.CharField(help_text="The rider's email, or their phone for a phone account")
    currency = serializers.CharField()
    charged_at = serializers.DateTimeField(allow_null=True)
    lines = ReceiptLineOut(many=True)
    subtotal = BillingMoney()
    discounts = BillingMoney()
    total = BillingMoney()
    vat_rate = serializers.CharField(help_text="e.g. 0.19")
    vat = BillingMoney()
    net = BillingMoney()
    paid = ReceiptPaidOut()
    refunds = ReceiptRefundOut(many=True)
