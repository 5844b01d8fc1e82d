"""Staff operation API shapes: refunds and goodwill credit."""

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
