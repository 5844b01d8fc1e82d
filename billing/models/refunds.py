"""Refunds of ride charges, made by finance staff."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ride_id = models.UUIDField(db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    card_amount = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0),
                                      help_text="Part returned to the card the ride was paid with")
    wallet_amount = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0),
                                        help_text="Part returned to the rider's wallet (cash)")
    payment = models.ForeignKey("billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    provider_ref = models.CharField(max_length=128, blank=True)
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    failure_code = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [
            ("refund", "Can refund ride charges"),
            ("grant_goodwill", "Can grant goodwill credit"),
            ("approve_large_credit", "Can refund or grant goodwill above BILLING_STAFF_APPROVAL_LIMIT"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount__gt=0, card_amount__gte=0, wallet_amount__gte=0)
                & models.Q(amount=models.F("card_amount") + models.F("wallet_amount")),
                name="refund_parts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount} {self.currency} ({self.status})"
