"""Our side of the payment provider: customers, saved payment methods, payments (intents) and webhook events."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class PaymentCustomer(models.Model):
    """The rider's customer object at one provider (created lazily with the first payment method)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_customers")
    provider = models.CharField(max_length=32)
    ref = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "provider"], name="paymentcustomer_one_per_provider")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.ref}"


class PaymentMethod(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payment_methods")
    provider = models.CharField(max_length=32)
    ref = models.CharField(max_length=128)
    brand = models.CharField(max_length=32, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "ref"], name="paymentmethod_ref_unique"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="paymentmethod_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} ****{self.last4}"


class Payment(models.Model):
    """One payment intent at the provider: a top-up, a ride hold, or an extra ride charge.

    The row is committed (status ``pending``) before the provider is called, so that a crash or a timeout
    leaves a record that webhooks and retries reconcile; the provider call's idempotency key derives from its id.
    """

    class Purpose(models.TextChoices):
        TOP_UP = "top_up"
        RIDE_HOLD = "ride_hold"
        RIDE_EXTRA = "ride_extra"
        DEBT_SETTLE = "debt_settle"  # "settle my balance": exactly the outstanding debt

    class Status(models.TextChoices):
        PENDING = "pending"  # row written, provider not (yet known to be) called
        REQUIRES_ACTION = "requires_action"  # 3-D Secure: the rider must confirm in the app
        AUTHORISED = "authorised"  # hold placed, capturable
        UNKNOWN = "unknown"  # the provider timed out: outcome comes from a retry or a webhook
        CAPTURED = "captured"
        VOIDED = "voided"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=32)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    ride_id = models.UUIDField(null=True, blank=True, db_index=True)
    payment_method = models.ForeignKey(PaymentMethod, null=True, blank=True, on_delete=models.PROTECT)
    provider_ref = models.CharField(max_length=128, blank=True)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    amount_captured = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    amount_refunded = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    capture_amount = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, help_text="What we asked the provider to capture"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=64, blank=True)
    next_action = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_ref"], condition=~models.Q(provider_ref=""), name="payment_ref_unique"
            ),
            models.UniqueConstraint(
                fields=["ride_id", "purpose"],
                condition=models.Q(purpose__in=["ride_hold", "ride_extra"]),
                name="payment_one_hold_and_extra_per_ride",
            ),
            # Two "settle my balance" calls at once charge once: at most one unfinished settlement per rider and
            # currency (the service also serialises them on the rider's receivable account).
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=models.Q(purpose="debt_settle",
                                   status__in=["pending", "unknown", "requires_action", "authorised"]),
                name="payment_one_open_settlement",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(amount_captured__gte=0, amount_captured__lte=models.F("amount")),
                name="payment_captured_within_amount",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__gte=0, amount_refunded__lte=models.F("amount_captured")),
                name="payment_refunded_within_captured",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.amount} {self.currency} ({self.status})"


class RideBilling(models.Model):
    """The money side of one ride: how it is secured (wallet or card hold) and how it was settled."""

    class Method(models.TextChoices):
        WALLET = "wallet"
        CARD = "card"

    class Status(models.TextChoices):
        HELD = "held"
        CHARGING = "charging"
        CHARGED = "charged"
        RELEASED = "released"

    ride_id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ride_billings")
    city = models.ForeignKey("fleet.City", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             help_text="The ride's city (staff see the money of their cities only)")
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=8, choices=Method.choices)
    hold_amount = models.DecimalField(max_digits=18, decimal_places=4)
    hold = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    fare_total = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    card_due = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, help_text="Fixed when charging starts"
    )
    fare = models.JSONField(null=True, blank=True, help_text="The itemised fare as charged")
    paid_wallet = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    paid_card = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    debt = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    created_at = models.DateTimeField(auto_now_add=True)
    charged_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"ride {self.ride_id} ({self.status})"


class WebhookEvent(models.Model):
    """Every provider event once: the unique (provider, event_id) makes duplicate deliveries no-ops."""

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    type = models.CharField(max_length=64)
    object_ref = models.CharField(max_length=128, blank=True)
    payload = models.JSONField()
    outcome = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhookevent_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"
