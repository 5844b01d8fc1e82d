"""Billing admin: tariffs (an edit publishes a new version), read-only ledger, payments and webhook events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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
    ReconcileRun,
    Refund,
    RideBilling,
    RiderPass,
    Tariff,
    WebhookEvent,
)
from billing.services import tariffs as tariff_services
from core.admin import ReadOnlyAdmin
from fleet.admin.scope import CityScopedAdmin

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
class TariffAdmin(CityScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
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


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    """Balances as a non-accountant reads them: a debit balance (money owed to us, an expense) and a credit balance
    (revenue earned, VAT owed, a rider's wallet) in their own columns, both positive; the signed balance (debit > 0,
    credit < 0) stays for accountants."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["code", "kind", "currency", "debit", "credit", "signed_balance", "user", "city"]
    list_filter = ["kind", "currency"]
    search_fields = ["code", "user__email"]

    @admin.display(description="debit balance", ordering="balance")
    def debit(self, obj: LedgerAccount) -> str:
        return _money(obj.debit_balance)

    @admin.display(description="credit balance", ordering="-balance")
    def credit(self, obj: LedgerAccount) -> str:
        return _money(obj.credit_balance)

    @admin.display(description="signed balance (debit +, credit −)", ordering="balance")
    def signed_balance(self, obj: LedgerAccount) -> str:
        return _money(obj.balance)


class _EntryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = LedgerEntry
    fields = ["account", "debit", "credit", "currency", "signed_amount"]
    readonly_fields = ["account", "debit", "credit", "currency", "signed_amount"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="debit")
    def debit(self, obj: LedgerEntry) -> str:
        return _money(obj.debit)

    @admin.display(description="credit")
    def credit(self, obj: LedgerEntry) -> str:
        return _money(obj.credit)

    @admin.display(description="signed amount (debit +, credit −)")
    def signed_amount(self, obj: LedgerEntry) -> str:
        return _money(obj.amount)


def _entries_lines(entries: list[LedgerEntry]) -> SafeString:
    return format_html_join(mark_safe("<br>"), "{} {}", ((e.account.code, _money(abs(e.amount))) for e in entries))  # noqa: S308


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "kind", "description", "amount", "debited", "credited", "user", "actor",
                    "ride_id"]
    list_filter = ["kind"]
    search_fields = ["=idempotency_key", "user__email", "ride_id"]  # a key exactly: 2M+ rows, no prefix index
    ordering = ["-created_at"]  # newest first (indexed); the id is a random UUID
    inlines = [_EntryInline]
    show_full_result_count = False  # a year of transactions: no second COUNT(*) of the whole table per page

    def get_queryset(self, request: HttpRequest) -> QuerySet[LedgerTransaction]:
        # The total of the debits (= of the credits) per shown row: a correlated subquery, evaluated for the page's
        # rows only, not an aggregate over the whole table; the entries of the page come in one more query.
        debits = (LedgerEntry.objects.filter(transaction=OuterRef("pk"), amount__gt=0).values("transaction")
                  .annotate(s=Sum("amount")).values("s"))
        return (super().get_queryset(request).select_related("user", "actor")
                .prefetch_related(Prefetch("entries", queryset=LedgerEntry.objects.select_related("account")
                                           .order_by("-amount", "pk")))
                .annotate(total=Subquery(debits)))

    @admin.display(description="amount")
    def amount(self, obj: LedgerTransaction) -> str:
        entries = list(obj.entries.all())
        currency = entries[0].currency if entries else ""
        return f"{_money(getattr(obj, 'total', None))} {currency}"

    @admin.display(description="debit (money to)")
    def debited(self, obj: LedgerTransaction) -> SafeString:
        return _entries_lines([e for e in obj.entries.all() if e.amount > 0])

    @admin.display(description="credit (money from)")
    def credited(self, obj: LedgerTransaction) -> SafeString:
        return _entries_lines([e for e in obj.entries.all() if e.amount < 0])


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    list_display = ["created_at", "transaction_kind", "account", "debit", "credit", "currency", "signed_amount"]
    # Only the account kind (its choices are in the code): a filter of all values (currency, transaction kind)
    # would scan the whole table for its choices on every page.
    list_filter = ["account__kind"]
    search_fields = ["account__code", "=transaction__idempotency_key"]  # a key exactly: indexed on 2M+ rows
    list_select_related = ["transaction", "account"]
    show_full_result_count = False  # a year of entries: no COUNT(*) of the whole table on every page

    @admin.display(description="transaction")
    def transaction_kind(self, obj: LedgerEntry) -> SafeString:
        url = reverse("admin:billing_ledgertransaction_change", args=[obj.transaction_id])
        return format_html('<a href="{}">{}</a>', url, obj.transaction.kind)

    @admin.display(description="debit", ordering="-amount")
    def debit(self, obj: LedgerEntry) -> str:
        return _money(obj.debit)

    @admin.display(description="credit", ordering="amount")
    def credit(self, obj: LedgerEntry) -> str:
        return _money(obj.credit)

    @admin.display(description="signed amount (debit +, credit −)", ordering="amount")
    def signed_amount(self, obj: LedgerEntry) -> str:
        return _money(obj.amount)


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    empty_help = ("No run yet: the beat task billing.tasks.reconcile_nightly checks the ledger every night at "
                  "02:30 UTC and lists each night here; a mismatch is emailed to staff who may read the ledger.")
    list_display = ["night", "result", "started_at", "finished_at", "alerted_at"]
    fields = ["night", "started_at", "finished_at", "mismatch_count", "mismatch_table", "alerted_at", "alerted_to"]
    readonly_fields = ["mismatch_table"]

    @admin.display(description="mismatches")
    def mismatch_table(self, obj: ReconcileRun) -> SafeString:
        """Account first, then the cached balance, what its entries add up to and the difference (jsonb does not
        keep the keys' order, so the generic JSON table would shuffle the columns)."""
        if not obj.mismatches:
            return format_html("{}", "none")
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (m["account"], m["cached"], m["from_entries"], m["difference"]) for m in obj.mismatches))
        return format_html('<table class="fw-json"><thead><tr><th>account or transaction</th><th>cached balance'
                           '</th><th>sum of its entries</th><th>difference</th></tr></thead><tbody>{}</tbody></table>',
                           rows)

    @admin.display(description="result", ordering="mismatch_count")
    def result(self, obj: ReconcileRun) -> str:
        if obj.finished_at is None:
            return "not finished"
        return "balanced" if obj.mismatch_count == 0 else f"{obj.mismatch_count} MISMATCH(ES)"


def _rides_in_scope(request: HttpRequest) -> QuerySet[Any]:
    """The ride ids of the ride billings the user may see (their cities)."""
    return admin.site.get_model_admin(RideBilling).get_queryset(request).values("ride_id")


@admin.register(Payment)
class PaymentAdmin(CityScopedAdmin, ReadOnlyAdmin):
    """A ride's hold or extra charge belongs to the ride's city; a top-up to no city (every finance member sees
    it: riders are not city-bound)."""

    large_table = True  # core.admin_scale: estimated counts, indexed search, a date filter
    empty_help = "No payments: card holds, ride charges and wallet top-ups appear here as the provider confirms them."
    # 1440 px wide: the currency goes with the amount, the provider is a filter (one per deployment)
    list_display = ["created_at", "user", "purpose", "status", "amount_and_currency", "amount_captured",
                    "amount_refunded", "provider_ref", "failure_code"]
    list_filter = ["status", "purpose", "provider"]
    search_fields = ["provider_ref", "user__email", "ride_id"]

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.city_limited(request):
            return queryset
        return queryset.filter(Q(ride_id__isnull=True) | Q(ride_id__in=_rides_in_scope(request)))

    @admin.display(description="amount", ordering="amount")
    def amount_and_currency(self, obj: Payment) -> str:
        return f"{obj.amount} {obj.currency}"


@admin.register(RideBilling)
class RideBillingAdmin(CityScopedAdmin, ReadOnlyAdmin):
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
class PassProductAdmin(CityScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
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
class RiderPassAdmin(CityScopedAdmin, ReadOnlyAdmin):
    city_field = "product__city"
    list_display = ["user", "product", "starts_at", "ends_at", "minutes_remaining"]
    search_fields = ["user__email"]


@admin.register(Refund)
class RefundAdmin(CityScopedAdmin, ReadOnlyAdmin):
    """A refund belongs to its ride's city."""

    def scope_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.city_limited(request):
            return queryset
        return queryset.filter(ride_id__in=_rides_in_scope(request))

    empty_help = "No refunds: support refunds a ride through the API (docs/billing.md); each one is listed here."
    list_display = ["created_at", "ride_id", "user", "amount", "card_amount", "wallet_amount", "status", "reason",
                    "created_by"]
    list_filter = ["status"]
    search_fields = ["ride_id", "user__email"]
