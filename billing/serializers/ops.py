"""Staff operation API shapes (refunds and goodwill credit) and a ride's receipt."""

from __future__ import annotations

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
