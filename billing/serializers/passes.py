"""Pass and promo API shapes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import PassProduct, PromoRedemption, RiderPass
from billing.serializers.fields import BillingMoney
from core.money import money
from fleet.cityref import CityRefField


class PassCatalogueIn(serializers.Serializer):
    city = CityRefField(required=False, help_text="Only passes valid in this city (its id or slug)")


class PassProductOut(serializers.ModelSerializer):
    price = serializers.SerializerMethodField()
    city = serializers.CharField(source="city.slug", allow_null=True, default=None)
    kind = serializers.CharField(help_text="minute_pack | period_pass")

    class Meta:
        model = PassProduct
        fields = ["code", "name", "kind", "city", "price", "duration_days", "minutes", "unlock_waived",
                  "free_minutes_per_ride"]

    @extend_schema_field(BillingMoney)
    def get_price(self, obj: PassProduct) -> dict[str, str]:
        return money(obj.price, obj.currency)


class PassBuyIn(serializers.Serializer):
    product = serializers.SlugField(help_text="Product code from the catalogue")
    city = CityRefField(required=False,
                        help_text="City the rider buys in, by id or slug (checked against the product)")


class RiderPassOut(serializers.ModelSerializer):
    product = PassProductOut()

    class Meta:
        model = RiderPass
        fields = ["id", "product", "starts_at", "ends_at", "minutes_remaining"]


class PromoRedeemIn(serializers.Serializer):
    code = serializers.CharField(max_length=40)


class PromoRedemptionOut(serializers.ModelSerializer):
    code = serializers.CharField(source="promo.code")
    kind = serializers.CharField(source="promo.kind")
    credit = serializers.SerializerMethodField()
    percent_off = serializers.DecimalField(source="promo.percent", max_digits=5, decimal_places=2, allow_null=True)

    class Meta:
        model = PromoRedemption
        fields = ["id", "code", "kind", "credit", "percent_off", "created_at"]

    @extend_schema_field(BillingMoney(allow_null=True))
    def get_credit(self, obj: PromoRedemption) -> dict[str, str] | None:
        return money(obj.promo.amount, obj.promo.currency) if obj.promo.amount else None
