"""The payment-provider interface: what billing needs from a PSP, and the errors a PSP call may raise.

Amounts are ``Decimal`` in major units with the currency; adapters convert to the PSP's minor units.
Every mutating call takes an ``idempotency_key``: a retry with the same key never moves money twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


class ProviderError(Exception):
    """The provider refused the call for a reason that retrying will not change."""

    def __init__(self, code: str, message: str = "") -> None:
        self.code = code
        super().__init__(message or code)


class ProviderDeclined(ProviderError):
    """The card was declined (``code``: card_declined, insufficient_funds, ...)."""


class ProviderTimeout(Exception):
    """No answer: the call may or may not have happened. Retry with the same idempotency key."""


@dataclass(frozen=True)
class CardInfo:
    ref: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Intent:
    """A payment intent as the provider reports it."""

    ref: str
    status: str  # requires_action | requires_capture | succeeded | canceled | failed
    amount: Decimal
    amount_capturable: Decimal
    amount_received: Decimal
    currency: str
    next_action: dict[str, Any] | None = None
    failure_code: str = ""


@dataclass(frozen=True)
class Refund:
    ref: str
    status: str  # succeeded | pending | failed
    amount: Decimal


@dataclass(frozen=True)
class Event:
    """A verified webhook event, normalised. ``type`` uses Stripe's names, which the test provider shares."""

    id: str
    type: str
    object_ref: str  # the payment intent id (for charge/dispute events: the intent they belong to)
    amount: Decimal
    currency: str
    created: int
    data: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str

    def customer_create(self, *, email: str, user_ref: str, idempotency_key: str) -> str: ...

    def payment_method_attach(self, *, customer_ref: str, token: str, idempotency_key: str) -> CardInfo: ...

    def authorise(
        self, *, customer_ref: str, method_ref: str, amount: Decimal, currency: str, capture: bool,
        idempotency_key: str, metadata: dict[str, str],
    ) -> Intent:
        """Create and confirm an intent: a hold (``capture=False``) or an immediate charge (``capture=True``)."""
        ...

    def capture(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Intent: ...

    def void(self, *, intent_ref: str, idempotency_key: str) -> Intent: ...

    def refund(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Refund: ...

    def retrieve(self, *, intent_ref: str) -> Intent: ...

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> Event:
        """Verify the signature and normalise the event; raises ``ProviderError('signature_invalid')``."""
        ...
