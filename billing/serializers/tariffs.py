"""Tariff API shapes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing import fares
from billing.models import Tariff
from billing.serializers.fields import BillingMoney
from billing.services.tariffs import tariff_snapshot
from core.money import money
from fleet.cityref import CityRefField


class TariffListIn(serializers.Serializer):
    city = CityRefField()


class TariffQuoteIn(serializers.Serializer):
    city = CityRefField()
    vehicle_type = serializers.SlugField(help_text="Vehicle type code")


class QuotePieceOut(serializers.Serializer):
    key = serializers.CharField(help_text="Stable message key a client can localise")
    params = serializers.DictField(child=serializers.CharField())


class TariffQuoteOut(serializers.Serializer):
    plan_id = serializers.CharField()
    vehicle_type = serializers.CharField()
    text = serializers.CharField(help_text="English summary, e.g. 'unlock 1.00 + 0.25/min'")
    pieces = QuotePieceOut(many=True)
    unlock_fee = serializers.SerializerMethodField()
    per_minute = serializers.SerializerMethodField()

    @extend_schema_field(BillingMoney)
    def get_unlock_fee(self, obj: dict[str, Any]) -> dict[str, str]:
        quote: fares.Quote = obj["quote"]
        return money(quote.unlock_fee, quote.currency)

    @extend_schema_field(BillingMoney)
    def get_per_minute(self, obj: dict[str, Any]) -> dict[str, str]:
        quote: fares.Quote = obj["quote"]
        return money(quote.per_minute, quote.currency)


def quote_body(tariff: Tariff) -> dict[str, Any]:
    quote = fares.quote(tariff_snapshot(tariff))
    return {"plan_id": tariff.plan_id, "vehicle_type": tariff.vehicle_type.code, "text": quote.text,
            "pieces": [{"key": p.key, "params": p.params} for p in quote.pieces], "quote": quote}


class TariffOut(serializers.ModelSerializer):
    plan_id = serializers.CharField()
    city = serializers.CharField(source="city.slug")
    vehicle_type = serializers.CharField(source="vehicle_type.code")
    quote = serializers.SerializerMethodField()
    snapshot = serializers.SerializerMethodField()

    class Meta:
        model = Tariff
        fields = ["id", "plan_id", "version", "city", "vehicle_type", "currency", "quote", "snapshot", "created_at"]

    def get_quote(self, obj: Tariff) -> str:
        return fares.quote(tariff_snapshot(obj)).text

    @extend_schema_field(serializers.DictField())
    def get_snapshot(self, obj: Tariff) -> dict[str, object]:
        return tariff_snapshot(obj).to_json()
