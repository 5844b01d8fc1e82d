"""Where ops alerts go beyond the admin: endpoints (an outgoing webhook or an email list), per city or for all
cities, from a minimum severity, for some kinds or all; each message sent to one (``AlertDelivery``) with every
attempt recorded (``AlertDeliveryAttempt``). Written only through ``fleet.services.alerting``."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from fleet.models.catalog import City
from fleet.models.ops import OpsAlertKind, OpsAlertSeverity


class AlertChannel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook (Slack-compatible, HMAC-signed)"
    EMAIL = "email", "Email"


class AlertEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=AlertChannel.choices, default=AlertChannel.WEBHOOK)
    url = models.URLField("URL", max_length=500, blank=True, help_text="Webhook: where the POST goes (e.g. a Slack "
                                                                "incoming webhook or your own receiver)")
    secret = models.CharField(max_length=200, blank=True,
                              help_text="Webhook: the key of the X-Freewheel-Signature HMAC-SHA256 (docs/fleet.md)")
    emails = models.TextField(blank=True, help_text="Email: addresses, one per line or comma-separated")
    city = models.ForeignKey(City, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             help_text="Empty: alerts of all cities")
    min_severity = models.CharField(max_length=8, choices=OpsAlertSeverity.choices, default=OpsAlertSeverity.WARNING)
    kinds = ArrayField(models.CharField(max_length=24, choices=OpsAlertKind.choices), default=list, blank=True,
                       help_text="Empty: every kind")
    send_resolved = models.BooleanField(
        "send resolved", default=True, db_default=True,
        help_text="Also send a 'resolved' message when an alert this endpoint received is resolved")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(channel="webhook") | ~Q(url=""), name="alertendpoint_webhook_url"),
            models.CheckConstraint(condition=~Q(channel="email") | ~Q(emails=""), name="alertendpoint_email_list"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def recipients(self) -> list[str]:
        return [a.strip() for a in self.emails.replace(",", "\n").splitlines() if a.strip()]


class DeliveryState(models.TextChoices):
    COLLECTING = "collecting", "Collecting (digest)"
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed", "Failed (gave up)"


class AlertEvent(models.TextChoices):
    OPENED = "opened"
    RESOLVED = "resolved"


class AlertDelivery(models.Model):
    """One message to one endpoint: a single alert, or a digest of the alerts of one rate-limit window."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(AlertEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    alert_ids = ArrayField(models.UUIDField(), default=list)
    event = models.CharField(max_length=10, choices=AlertEvent.choices, default=AlertEvent.OPENED,
                             db_default=AlertEvent.OPENED, help_text="What the message says of its alerts")
    digest = models.BooleanField(default=False)
    window_start = models.DateTimeField(help_text="Start of the rate-limit window this message counts in; a digest "
                                                  "collects the window's later alerts and is sent when it ends")
    state = models.CharField(max_length=12, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "alert deliveries"
        constraints = [
            # One digest per endpoint, window and event: the storm's alerts are appended to it, not sent one by one.
            models.UniqueConstraint(fields=["endpoint", "window_start", "event"], condition=Q(digest=True),
                                    name="alertdelivery_one_digest_per_window_event"),
        ]
        indexes = [models.Index(fields=["endpoint", "window_start"], name="alertdelivery_endpoint_window"),
                   models.Index(fields=["state", "next_attempt_at"], name="alertdelivery_due",
                                condition=Q(state__in=["collecting", "pending", "sending"]))]

    def __str__(self) -> str:
        what = f"Digest of {len(self.alert_ids)} alerts" if self.digest else "Alert" if self.alert_ids else "Test"
        what += " resolved" if self.event == AlertEvent.RESOLVED else ""
        return f"{what} to {self.endpoint.name} ({self.get_state_display()})"


class AlertDeliveryAttempt(models.Model):
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="HTTP status (webhooks)")
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="alertattempt_unique_number")]

    def __str__(self) -> str:
        return f"Attempt {self.number}"
