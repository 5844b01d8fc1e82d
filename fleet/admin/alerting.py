"""Alert delivery admin: endpoints (webhook or email list) that fleet managers edit, and the deliveries with each
attempt (read-only), so "did Slack get it?" has an answer on one page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.admin import ReadOnlyAdmin
from fleet.admin.scope import CityScopedAdmin
from fleet.models import AlertChannel, AlertDelivery, AlertDeliveryAttempt, AlertEndpoint, OpsAlertKind
from fleet.services import alerting, webhook_target


class AlertEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    kinds = forms.MultipleChoiceField(choices=OpsAlertKind.choices, required=False,
                                      widget=forms.CheckboxSelectMultiple, help_text="None ticked: every kind")
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False), max_length=200,
                             help_text="Webhook: the HMAC-SHA256 key receivers verify X-Freewheel-Signature with "
                                       "(docs/fleet.md#alerts). Left empty on an existing endpoint: unchanged.")

    class Meta:
        model = AlertEndpoint
        fields = ["name", "active", "channel", "url", "secret", "emails", "city", "min_severity", "kinds",
                  "send_resolved"]
        widgets = {"emails": forms.Textarea(attrs={"rows": 3, "cols": 60}),
                   "url": forms.URLInput(attrs={"size": 80})}

    def clean_secret(self) -> str:
        secret: str = self.cleaned_data.get("secret") or ""
        return secret or (self.instance.secret if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        channel = data.get("channel")
        if channel == AlertChannel.WEBHOOK and not data.get("url"):
            self.add_error("url", "A webhook needs a URL.")
        if channel == AlertChannel.WEBHOOK and data.get("url"):
            try:  # checked again before every send (fleet.services.webhook_target)
                webhook_target.check(data["url"])
            except webhook_target.TargetRefused as exc:
                self.add_error("url", str(exc))
        if channel == AlertChannel.EMAIL:
            emails = [a.strip() for a in (data.get("emails") or "").replace(",", "\n").splitlines() if a.strip()]
            if not emails:
                self.add_error("emails", "An email endpoint needs at least one address.")
            for address in emails:
                try:
                    forms.EmailField().clean(address)
                except forms.ValidationError:
                    self.add_error("emails", f"Not an email address: {address}")
        return data


class AttemptInline(admin.TabularInline):  # type: ignore[type-arg]
    model = AlertDeliveryAttempt
    fields = readonly_fields = ("number", "at", "ok", "status_code", "error", "duration_ms")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertEndpoint)
class AlertEndpointAdmin(CityScopedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = AlertEndpointForm
    empty_help = ("No alert endpoints: alerts are only in the admin and the fleet map. Add a webhook (Slack or your "
                  "own receiver, HMAC-signed) or an email list, for one city or all, from a minimum severity.")
    list_display = ["name", "active", "channel", "target", "city_or_all", "min_severity", "kinds_list", "send_resolved",
                    "last_delivery"]
    list_filter = ["active", "channel", "city", "min_severity"]
    search_fields = ["name", "url", "emails"]
    list_select_related = ["city"]
    actions = ["send_test"]

    @admin.display(description="sends to")
    def target(self, obj: AlertEndpoint) -> str:
        return obj.url if obj.channel == AlertChannel.WEBHOOK else ", ".join(obj.recipients)

    @admin.display(description="city")
    def city_or_all(self, obj: AlertEndpoint) -> str:
        return obj.city.name if obj.city else "All cities"

    @admin.display(description="kinds")
    def kinds_list(self, obj: AlertEndpoint) -> str:
        labels = dict(OpsAlertKind.choices)
        return ", ".join(str(labels.get(k, k)) for k in obj.kinds) if obj.kinds else "All kinds"

    @admin.display(description="last delivery")
    def last_delivery(self, obj: AlertEndpoint) -> str:
        last = obj.deliveries.order_by("-created_at").first()
        return f"{last.get_state_display()} ({last.attempts} attempts)" if last else "none yet"

    def has_test_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("fleet.change_alertendpoint")

    @admin.action(description="Send a test message now", permissions=["test"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[AlertEndpoint]) -> None:
        for endpoint in queryset:
            delivery = alerting.alert_endpoint_test(endpoint_id=endpoint.id)
            if delivery.state == "delivered":
                self.message_user(request, f"{endpoint}: test message delivered.", messages.SUCCESS)
            else:
                self.message_user(request, f"{endpoint}: test message failed ({delivery.last_error}); it is retried "
                                           "with backoff, see Alert deliveries.", messages.WARNING)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(CityScopedAdmin, ReadOnlyAdmin):
    city_field = "endpoint__city"
    empty_help = ("No alert deliveries yet: each message sent to an alert endpoint (one alert, or a digest of a "
                  "storm) is listed here with every attempt.")
    list_display = ["created_at", "endpoint", "what", "state", "attempts", "next_attempt_at", "delivered_at",
                    "last_error"]
    list_filter = ["state", "event", "digest", "endpoint"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AlertDelivery]:
        return super().get_queryset(request).select_related("endpoint")
    fields = readonly_fields = ("endpoint", "what", "alerts", "state", "attempts", "window_start", "created_at",
                                "next_attempt_at", "delivered_at", "last_error")
    inlines = [AttemptInline]

    @admin.display(description="message")
    def what(self, obj: AlertDelivery) -> str:
        resolved = " resolved" if obj.event == "resolved" else ""
        if obj.digest:
            return f"Digest of {len(obj.alert_ids)} alerts{resolved}"
        return "Test message" if not obj.alert_ids else f"One alert{resolved}"

    @admin.display(description="alerts")
    def alerts(self, obj: AlertDelivery) -> SafeString:
        rows = alerting.delivery_alerts(delivery=obj)
        if not rows:
            return format_html("{}", "none (a test message)")
        return format_html("<ul>{}</ul>", format_html_join(
            "", '<li><a href="../../../opsalert/{}/change/">{} {}</a>: {}</li>',
            ((a.id, a.get_kind_display(), a.vehicle.code, a.message) for a in rows)))
