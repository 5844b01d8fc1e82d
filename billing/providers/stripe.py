"""Stripe adapter on the official ``stripe`` library.

PaymentIntents with ``capture_method=manual`` for ride holds (``automatic`` for top-ups and extra charges), an
``idempotency_key`` on every mutating call (the library sends it as the ``Idempotency-Key`` header, and retrying
with the same key makes Stripe replay the first answer), and webhook signature verification with
``stripe.Webhook.construct_event``. The library's own network retries are off: ``with_retries`` in
billing.services.payments retries timeouts with the same key, so nothing is retried twice over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import stripe
from django.conf import settings

from billing.providers import wire
from billing.providers.base import (
    CardInfo,
    Event,
    Intent,
    ProviderDeclined,
    ProviderError,
    ProviderTimeout,
    Refund,
)


def _call[T](fn: Callable[[], T]) -> T:
    """Translate the library's errors into the provider interface's."""
    try:
        return fn()
    except stripe.CardError as exc:
        error = exc.error
        code = (error.decline_code or error.code) if error else None
        raise ProviderDeclined(code or "card_declined", str(exc.user_message or "")) from exc
    except stripe.APIConnectionError as exc:
        raise ProviderTimeout(str(exc)) from exc
    except stripe.StripeError as exc:
        if exc.http_status is not None and exc.http_status >= 500:
            raise ProviderTimeout(str(exc)) from exc  # the outcome is unknown: retry with the same key
        raise ProviderError(exc.code or "stripe_error", str(exc.user_message or exc)) from exc


def _intent(obj: Any) -> Intent:
    return wire.intent_from_dict(obj.to_dict())


class StripeProvider:
    name = "stripe"
    # Tests replace Stripe's HTTP client (the network edge) with a recording fake; production uses the default.
    http_client: ClassVar[stripe.HTTPClient | None] = None

    def __init__(self, api_key: str | None = None, webhook_secret: str | None = None) -> None:
        self.client = stripe.StripeClient(
            api_key or settings.STRIPE_API_KEY or "sk_unset", max_network_retries=0, http_client=self.http_client
        )
        self.webhook_secret = webhook_secret or settings.STRIPE_WEBHOOK_SECRET

    def customer_create(self, *, email: str, user_ref: str, idempotency_key: str) -> str:
        params: stripe.params.CustomerCreateParams = {"metadata": {"user_id": user_ref}}
        if email:  # a phone-only account has no address to give Stripe (it would mail receipts there)
            params["email"] = email
        customer = _call(lambda: self.client.v1.customers.create(
            params=params, options={"idempotency_key": idempotency_key}
        ))
        return str(customer.id)

    def payment_method_attach(self, *, customer_ref: str, token: str, idempotency_key: str) -> CardInfo:
        method = _call(lambda: self.client.v1.payment_methods.attach(
            token, params={"customer": customer_ref}, options={"idempotency_key": idempotency_key}
        ))
        card = method.card
        if card is None:
            raise ProviderError("payment_method_not_card")
        return CardInfo(ref=method.id, brand=card.brand, last4=card.last4, exp_month=card.exp_month,
                        exp_year=card.exp_year)

    def authorise(
        self, *, customer_ref: str, method_ref: str, amount: Decimal, currency: str, capture: bool,
        idempotency_key: str, metadata: dict[str, str],
    ) -> Intent:
        params: Any = {
            "amount": wire.to_minor(amount, currency), "currency": currency.lower(), "customer": customer_ref,
            "payment_method": method_ref, "payment_method_types": ["card"], "confirm": True,
            "capture_method": "automatic" if capture else "manual", "metadata": metadata,
        }
        return _intent(_call(lambda: self.client.v1.payment_intents.create(
            params=params, options={"idempotency_key": idempotency_key}
        )))

    def capture(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Intent:
        return _intent(_call(lambda: self.client.v1.payment_intents.capture(
            intent_ref, params={"amount_to_capture": wire.to_minor(amount, currency)},
            options={"idempotency_key": idempotency_key},
        )))

    def void(self, *, intent_ref: str, idempotency_key: str) -> Intent:
        return _intent(_call(lambda: self.client.v1.payment_intents.cancel(
            intent_ref, options={"idempotency_key": idempotency_key}
        )))

    def refund(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Refund:
        refund = _call(lambda: self.client.v1.refunds.create(
            params={"payment_intent": intent_ref, "amount": wire.to_minor(amount, currency)},
            options={"idempotency_key": idempotency_key},
        ))
        return Refund(ref=refund.id, status=str(refund.status), amount=wire.from_minor(refund.amount, currency))

    def retrieve(self, *, intent_ref: str) -> Intent:
        return _intent(_call(lambda: self.client.v1.payment_intents.retrieve(intent_ref)))

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> Event:
        if not self.webhook_secret:  # start-up refuses this too (core.checks)
            raise ProviderError("signature_invalid")
        try:
            stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise ProviderError("signature_invalid") from exc
        return wire.event_from_dict(json.loads(body))
