"""Conversions shared by the adapters: minor units and Stripe-shaped JSON (which the test provider also speaks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.providers.base import Event, Intent
from core.money import minor_units, quantize


def to_minor(amount: Decimal, currency: str) -> int:
    return int(quantize(amount, currency).scaleb(minor_units(currency)))


def from_minor(value: int | None, currency: str) -> Decimal:
    return quantize(Decimal(value or 0).scaleb(-minor_units(currency)), currency)


def intent_from_dict(obj: dict[str, Any]) -> Intent:
    currency = str(obj["currency"]).upper()
    last_error = obj.get("last_payment_error") or {}
    return Intent(
        ref=obj["id"],
        status=obj["status"],
        amount=from_minor(obj.get("amount"), currency),
        amount_capturable=from_minor(obj.get("amount_capturable"), currency),
        amount_received=from_minor(obj.get("amount_received"), currency),
        currency=currency,
        next_action=obj.get("next_action"),
        failure_code=str(last_error.get("decline_code") or last_error.get("code") or ""),
    )


def event_from_dict(payload: dict[str, Any]) -> Event:
    """Normalise a Stripe-shaped event: intents carry their own id, charges and disputes their intent's."""
    obj = payload["data"]["object"]
    currency = str(obj.get("currency", "")).upper()
    if obj.get("object") == "payment_intent":
        ref, amount = obj["id"], obj.get("amount_received") or obj.get("amount_capturable") or 0
    elif obj.get("object") == "charge":
        ref, amount = obj.get("payment_intent") or "", obj.get("amount_refunded") or 0
    else:  # dispute and others
        ref, amount = obj.get("payment_intent") or "", obj.get("amount") or 0
    return Event(
        id=payload["id"], type=payload["type"], object_ref=str(ref),
        amount=from_minor(amount, currency or "EUR"), currency=currency, created=int(payload.get("created", 0)),
        data=obj,
    )
