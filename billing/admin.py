"""Billing admin: tariffs (an edit publishes a new version), read-only ledger, payments and webhook events."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from accounts.auth import admin_user
from billing import fares
from billing.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    PassProduct,
    Payment,
    PaymentMethod,
    PromoCode,
    Refund,
    RideBilling,
    RiderPass,
    Tariff,
    WebhookEvent,
)
from billing.services import tariffs as tariff_services
from core.admin import ReadOnlyAdmin

_ALWAYS_READONLY = ["version", "is_current", "currency", "created_at", "created_by"]


class TariffForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Tariff
        fields = ["city", "vehicle_type", *tariff_services.EDITABLE]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        city, vehicle_type = data.get("city") or self.instance.city, data.get("vehicle_type")
        candidate = Tariff(**{**{k: v for k, v in data.items() if k in tariff_services.EDITABLE},
                              "city": city, "vehicle_type": vehicle_type or self.instance.vehicle_type,
                              "currency": city.currency if city else "EUR", "version": 1})
        try:
            tariff_services.tariff_snapshot(candidate)
        except (fares.TariffInvalid, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise forms.ValidationError(f"The fare engine refuses this tariff: {exc}") from None
        return data


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    empty_help = ("No tariff: a city's vehicle type cannot be ridden without one. Add it here; an edit later publishes "
                  "a new version and rides keep the version they started with.")
    form = TariffForm
    list_display = ["__str__", "city", "vehicle_type", "version", "is_current", "unlock_fee", "created_at"]
    list_filter = ["is_current", "city", "vehicle_type"]

    def get_readonly_fields(self, request: HttpRequest, obj: Tariff | None = None) -> list[str]:
        if obj is None:
            return _ALWAYS_READONLY
        if not obj.is_current:  # history is immutable
            return [f.name for f in Tariff._meta.fields]
        return [*_ALWAYS_READONLY, "city", "vehicle_type"]

    def save_model(self, request: HttpRequest, obj: Tariff, form: Any, change: bool) -> None:
        """Never update in place: publish version N+1 (the edited object becomes that new row)."""
        fields = {name: form.cleaned_data[name] for name in tariff_services.EDITABLE if name in form.cleaned_data}
        new = tariff_services.tariff_publish(
            city=obj.city, vehicle_type=obj.vehicle_type, actor=admin_user(request), **fields
        )
        obj.pk, obj.version, obj.is_current = new.pk, new.version, True
        obj._state.adding = False


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["code", "kind", "currency", "balance", "user", "city"]
    list_filter = ["kind", "currency"]
    search_fields = ["code", "user__email"]


class _EntryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LedgerEntry
    fields = ["account", "amount", "currency"]
    readonly_fields = ["account", "amount", "currency"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "kind", "description", "user", "actor", "ride_id", "idempotency_key"]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "user__email", "ride_id"]  # a key exactly: 2M+ rows, no prefix index
    ordering = ["-created_at"]  # newest first (indexed); the id is a random UUID
    inlines = [_EntryInline]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = "No payments: card holds, ride charges and wallet top-ups appear here as the provider confirms them."
    # 1440 px wide: the currency goes with the amount, the provider is a filter (one per deployment)
    list_display = ["created_at", "user", "purpose", "status", "amount_and_currency", "amount_captured",
                    "amount_refunded", "provider_ref", "failure_code"]
    list_filter = ["status", "purpose", "provider"]
    search_fields = ["provider_ref", "user__email", "ride_id"]

    @admin.display(description="amount", ordering="amount")
    def amount_and_currency(self, obj: Payment) -> str:
        return f"{obj.amount} {obj.currency}"


@admin.register(RideBilling)
class RideBillingAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["ride_id", "user", "method", "status", "fare_total", "paid_wallet", "paid_card", "debt"]
    list_filter = ["status", "method"]
    search_fields = ["ride_id", "user__email"]


@admin.register(PaymentMethod)
class PaymentMethodAdmin(ReadOnlyAdmin):
    list_display = ["user", "provider", "brand", "last4", "is_default", "created_at"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider", "type", "event_id", "object_ref", "outcome"]
    list_filter = ["provider", "type", "outcome"]
    search_fields = ["event_id", "object_ref"]


@admin.register(PassProduct)
class PassProductAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "kind", "city", "price", "currency", "duration_days", "active"]
    list_filter = ["kind", "active", "city"]


@admin.register(PromoCode)
class PromoCodeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "kind", "amount", "percent", "currency", "valid_from", "valid_until", "redemptions",
                    "max_redemptions", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["code"]
    readonly_fields = ["redemptions", "created_by", "updated_by"]

    def save_model(self, request: HttpRequest, obj: PromoCode, form: Any, change: bool) -> None:
        """Records who wrote the code; nobody may make themselves its referrer (a credit on every redemption)."""
        if obj.referrer_id is not None and obj.referrer_id == request.user.pk:
            raise PermissionDenied("Staff may not name themselves the referrer of a promo code.")
        obj.code = obj.code.strip().upper()
        if not change:
            obj.created_by = admin_user(request)
        obj.updated_by = admin_user(request)
        super().save_model(request, obj, form, change)


@admin.register(RiderPass)
class RiderPassAdmin(ReadOnlyAdmin):
    list_display = ["user", "product", "starts_at", "ends_at", "minutes_remaining"]
    search_fields = ["user__email"]


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    empty_help = "No refunds: support refunds a ride through the API (docs/billing.md); each one is listed here."
    list_display = ["created_at", "ride_id", "user", "amount", "card_amount", "wallet_amount", "status", "reason",
                    "created_by"]
    list_filter = ["status"]
    search_fields = ["ride_id", "user__email"]
