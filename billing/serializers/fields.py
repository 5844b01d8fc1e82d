"""The money shape of the billing API: ``{"amount": "1.50", "currency": "EUR"}`` (core.money)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.money import MoneyField


class BillingMoney(serializers.Serializer):
    amount = serializers.CharField(help_text="Decimal string in major units, e.g. 1.50")
    currency = serializers.CharField(help_text="ISO-4217, e.g. EUR")

    class Meta:
        ref_name = "Money"  # the component every amount of the API refers to (rides' fares and fees too)


@extend_schema_field(BillingMoney)
class MoneyInField(MoneyField):
    pass
