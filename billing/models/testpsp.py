"""State of the built-in test payment provider ("testpsp"), kept in PostgreSQL like a real PSP keeps its own.

These tables belong to the simulated provider, not to Freewheel's books: billing code reaches them only through
``billing.providers.testpsp``.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class TestPspIntent(models.Model):
    __test__ = False  # not a pytest test class
    id = models.CharField(primary_key=True, max_length=64)
    customer = models.CharField(max_length=64, blank=True)
    payment_method = models.CharField(max_length=64)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    amount_capturable = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    amount_received = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    amount_refunded = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal(0))
    status = models.CharField(max_length=32)
    metadata = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.id} {self.status}"


class TestPspCall(models.Model):
    __test__ = False  # not a pytest test class
    """The stored result of an API call, replayed to a retry with the same idempotency key."""

    idempotency_key = models.CharField(primary_key=True, max_length=255)
    operation = models.CharField(max_length=32)
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.idempotency_key


class TestPspEvent(models.Model):
    __test__ = False  # not a pytest test class
    """Outbox of webhook events the test provider "sends"; ``testpsp.deliver_events`` delivers them."""

    id = models.CharField(primary_key=True, max_length=64)
    type = models.CharField(max_length=64)
    payload = models.JSONField()
    delivered = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
