"""Wallet and payment method API shapes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import AccountKind, LedgerEntry, Payment, PaymentMethod
from billing.selectors.wallet import WalletBalance
from billing.serializers.fields import BillingMoney, MoneyInField
from core.money import money


def _money_field() -> Any:
    return extend_schema_field(BillingMoney)


class WalletBalanceOut(serializers.Serializer):
    currency = serializers.CharField()
    cash = serializers.SerializerMethodField()
    bonus = serializers.SerializerMethodField()
    debt = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()

    @_money_field()
    def get_cash(self, obj: WalletBalance) -> dict[str, str]:
        return money(obj.cash, obj.currency)

    @_money_field()
    def get_bonus(self, obj: WalletBalance) -> dict[str, str]:
        return money(obj.bonus, obj.currency)

    @_money_field()
    def get_debt(self, obj: WalletBalance) -> dict[str, str]:
        return money(obj.debt, obj.currency)

    @_money_field()
    def get_available(self, obj: WalletBalance) -> dict[str, str]:
        return money(obj.available, obj.currency)


class WalletOut(serializers.Serializer):
    balances = WalletBalanceOut(many=True)
    spending_order = serializers.ListField(child=serializers.CharField())


class WalletTopUpIn(serializers.Serializer):
    amount = MoneyInField()
    payment_method = serializers.UUIDField()


class PaymentOut(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()
    amount_captured = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = ["id", "purpose", "status", "amount", "amount_captured", "failure_code", "next_action", "created_at"]

    @_money_field()
    def get_amount(self, obj: Payment) -> dict[str, str]:
        return money(obj.amount, obj.currency)

    @_money_field()
    def get_amount_captured(self, obj: Payment) -> dict[str, str]:
        return money(obj.amount_captured, obj.currency)


class WalletSettleIn(serializers.Serializer):
    currency = serializers.CharField(
        min_length=3, max_length=3, required=False,
        help_text="Which balance to settle; may be left out when the rider owes in one currency only")
    payment_method = serializers.UUIDField(required=False, help_text="A saved card; the default card when left out")
    expected = MoneyInField(
        required=False,
        help_text="The debt the app showed the rider. The charge is always what is owed when it is made; "
                  "`amount_changed` says when that differs from this")


class WalletSettlementOut(serializers.Serializer):
    payment = PaymentOut(help_text="The settlement payment (purpose `debt_settle`)")
    amount = serializers.SerializerMethodField(help_text="What was charged: the debt at the moment of charging")
    expected = serializers.SerializerMethodField(help_text="The `expected` amount sent, or null")
    amount_changed = serializers.BooleanField(
        help_text="True when the debt changed since the app's quote (`expected`) and a different amount was charged")
    balance = WalletBalanceOut(help_text="The wallet in the settled currency after this call")

    @_money_field()
    def get_amount(self, obj: dict[str, Any]) -> dict[str, str]:
        return money(obj["payment"].amount, obj["payment"].currency)

    @extend_schema_field(BillingMoney(allow_null=True))
    def get_expected(self, obj: dict[str, Any]) -> dict[str, str] | None:
        return None if obj["expected"] is None else money(obj["expected"], obj["payment"].currency)


class PaymentMethodAddIn(serializers.Serializer):
    token = serializers.CharField(max_length=128, help_text="Provider token from the app's card form")


class PaymentMethodOut(serializers.ModelSerializer):
    class Meta:
        model = PaymentMethod
        fields = ["id", "provider", "brand", "last4", "exp_month", "exp_year", "is_default", "created_at"]


_ACCOUNT_LABELS = {AccountKind.RIDER_CASH: "cash", AccountKind.RIDER_BONUS: "bonus", AccountKind.RIDER_RECEIVABLE: "debt"}


class WalletEntryOut(serializers.ModelSerializer):
    kind = serializers.CharField(source="transaction.kind")
    description = serializers.CharField(source="transaction.description")
    ride_id = serializers.UUIDField(source="transaction.ride_id", allow_null=True)
    account = serializers.SerializerMethodField()
    amount = serializers.SerializerMethodField()

    class Meta:
        model = LedgerEntry
        fields = ["id", "created_at", "kind", "account", "amount", "description", "ride_id"]

    def get_account(self, obj: LedgerEntry) -> str:
        return _ACCOUNT_LABELS.get(AccountKind(obj.account.kind), obj.account.kind)

    @_money_field()
    def get_amount(self, obj: LedgerEntry) -> dict[str, str]:
        """In the rider's sign: money added to cash/bonus is positive; debt taken on is negative."""
        return money(-Decimal(obj.amount), obj.currency)
