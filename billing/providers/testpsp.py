"""The built-in test payment provider: behaves like a real PSP, keeps its state in PostgreSQL.

Test cards (token or number -> behaviour), in the spirit of Stripe's test cards:

    tok_visa             4242424242424242  every call succeeds
    tok_chargeDeclined   4000000000000002  authorisation declined (card_declined)
    tok_insufficientFunds 4000000000009995 authorisation declined (insufficient_funds)
    tok_threeDSecure     4000000000003220  authorisation needs 3-D Secure (requires_action); confirm_3ds() completes
    tok_timeout          4000000000000119  money moves, then the call times out (ProviderTimeout); a retry with
                                           the same idempotency key returns the stored result
    tok_captureFails     4000000000000341  holds succeed; captures and immediate charges are declined

Every mutating call is idempotent by key (the result, error included, is stored and replayed). Webhook events go
to an outbox (TestPspEvent); ``pending_events()`` returns them signed, ready to POST, so tests can deliver them
twice or in any order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.models import TestPspCall, TestPspEvent, TestPspIntent
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

CARDS = {
    "visa": ("4242424242424242", "tok_visa"),
    "declined": ("4000000000000002", "tok_chargeDeclined"),
    "nofunds": ("4000000000009995", "tok_insufficientFunds"),
    "threeds": ("4000000000003220", "tok_threeDSecure"),
    "timeout": ("4000000000000119", "tok_timeout"),
    "capturefails": ("4000000000000341", "tok_captureFails"),
}
_BY_INPUT = {value: behaviour for behaviour, pair in CARDS.items() for value in pair}
SIGNATURE_HEADER = "Testpsp-Signature"
TOLERANCE_S = 300


def _behaviour(method_ref: str) -> str:
    return method_ref.split("_")[1] if method_ref.startswith("pm_") else "visa"


def _intent_json(intent: TestPspIntent, next_action: dict[str, Any] | None = None) -> dict[str, Any]:
    c = intent.currency
    return {
        "id": intent.id, "object": "payment_intent", "status": intent.status, "currency": c.lower(),
        "amount": wire.to_minor(intent.amount, c), "amount_capturable": wire.to_minor(intent.amount_capturable, c),
        "amount_received": wire.to_minor(intent.amount_received, c), "next_action": next_action,
        "metadata": intent.metadata,
    }


def _emit(event_type: str, obj: dict[str, Any]) -> None:
    event_id = f"evt_{uuid.uuid4().hex}"
    payload = {"id": event_id, "type": event_type, "created": int(time.time()), "data": {"object": obj}}
    TestPspEvent.objects.create(id=event_id, type=event_type, payload=payload)


def sign(body: bytes, *, timestamp: int | None = None) -> str:
    t = timestamp if timestamp is not None else int(time.time())
    mac = hmac.new(settings.BILLING_TESTPSP_WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def pending_events() -> list[tuple[bytes, dict[str, str]]]:
    """Undelivered events as (body, headers) in the order they happened; marks them delivered."""
    with transaction.atomic():
        events = list(TestPspEvent.objects.select_for_update().filter(delivered=False).order_by("created_at", "id"))
        TestPspEvent.objects.filter(pk__in=[e.pk for e in events]).update(delivered=True)
    out = []
    for event in events:
        body = json.dumps(event.payload).encode()
        out.append((body, {SIGNATURE_HEADER: sign(body)}))
    return out


class _Idempotent:
    """Runs an operation once per key, storing its JSON result or its error for replay."""

    def __init__(self, key: str, operation: str) -> None:
        self.key, self.operation = key, operation

    def run(self, fn: Any) -> dict[str, Any]:
        try:
            with transaction.atomic():
                call = TestPspCall.objects.create(idempotency_key=self.key, operation=self.operation, response={})
                response = fn()
                call.response = response
                call.save(update_fields=["response"])
        except IntegrityError:  # a retry (a concurrent duplicate waited for the first to commit)
            response = TestPspCall.objects.get(idempotency_key=self.key).response
            return self._replay(response)
        if response.get("_timeout"):
            raise ProviderTimeout(f"testpsp: {self.operation} timed out after the money moved")
        return self._replay(response)

    def _replay(self, response: dict[str, Any]) -> dict[str, Any]:
        error = response.get("error")
        if error:
            cls = ProviderDeclined if error.get("declined") else ProviderError
            raise cls(error["code"], error.get("message", ""))
        return response["result"]


def _declined(code: str) -> dict[str, Any]:
    return {"error": {"declined": True, "code": code, "message": f"Your card was declined ({code})."}}


class TestPsp:
    name = "testpsp"

    def customer_create(self, *, email: str, user_ref: str, idempotency_key: str) -> str:
        result = _Idempotent(idempotency_key, "customer").run(
            lambda: {"result": {"id": f"cus_{uuid.uuid4().hex[:16]}"}}
        )
        return str(result["id"])

    def payment_method_attach(self, *, customer_ref: str, token: str, idempotency_key: str) -> CardInfo:
        behaviour = _BY_INPUT.get(token.replace(" ", ""))
        if behaviour is None:
            raise ProviderError("invalid_card", "Unknown test card or token.")
        number = CARDS[behaviour][0]
        ref = f"pm_{behaviour}_{secrets.token_hex(8)}"
        result = _Idempotent(idempotency_key, "attach").run(lambda: {"result": {"id": ref}})
        return CardInfo(ref=result["id"], brand="visa", last4=number[-4:], exp_month=12, exp_year=2034)

    def authorise(
        self, *, customer_ref: str, method_ref: str, amount: Decimal, currency: str, capture: bool,
        idempotency_key: str, metadata: dict[str, str],
    ) -> Intent:
        def op() -> dict[str, Any]:
            behaviour = _behaviour(method_ref)
            intent = TestPspIntent.objects.create(
                id=f"pi_{uuid.uuid4().hex}", customer=customer_ref, payment_method=method_ref, currency=currency,
                amount=amount, status="processing", metadata=metadata,
            )
            return _authorise(intent, behaviour, capture)

        return wire.intent_from_dict(_Idempotent(idempotency_key, "authorise").run(op))

    def capture(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Intent:
        def op() -> dict[str, Any]:
            intent = TestPspIntent.objects.select_for_update().get(pk=intent_ref)
            if intent.status != "requires_capture" or amount > intent.amount_capturable or amount <= 0:
                return {"error": {"code": "payment_intent_unexpected_state", "message": intent.status}}
            if _behaviour(intent.payment_method) == "capturefails":
                return _declined("capture_failed")
            intent.amount_received, intent.amount_capturable, intent.status = amount, Decimal(0), "succeeded"
            intent.save()
            _emit("payment_intent.succeeded", _intent_json(intent))
            return {"result": _intent_json(intent), "_timeout": _behaviour(intent.payment_method) == "timeout"}

        return wire.intent_from_dict(_Idempotent(idempotency_key, "capture").run(op))

    def void(self, *, intent_ref: str, idempotency_key: str) -> Intent:
        def op() -> dict[str, Any]:
            intent = TestPspIntent.objects.select_for_update().get(pk=intent_ref)
            if intent.status not in ("requires_capture", "requires_action"):
                return {"error": {"code": "payment_intent_unexpected_state", "message": intent.status}}
            intent.status, intent.amount_capturable = "canceled", Decimal(0)
            intent.save()
            _emit("payment_intent.canceled", _intent_json(intent))
            return {"result": _intent_json(intent)}

        return wire.intent_from_dict(_Idempotent(idempotency_key, "void").run(op))

    def refund(self, *, intent_ref: str, amount: Decimal, currency: str, idempotency_key: str) -> Refund:
        def op() -> dict[str, Any]:
            intent = TestPspIntent.objects.select_for_update().get(pk=intent_ref)
            if intent.status != "succeeded" or amount <= 0 or amount > intent.amount_received - intent.amount_refunded:
                return {"error": {"code": "refund_exceeds_charge", "message": "Nothing left to refund."}}
            intent.amount_refunded += amount
            intent.save(update_fields=["amount_refunded"])
            _emit("charge.refunded", _charge_json(intent))
            return {"result": {"id": f"re_{uuid.uuid4().hex}", "status": "succeeded",
                               "amount": wire.to_minor(amount, currency)}}

        result = _Idempotent(idempotency_key, "refund").run(op)
        return Refund(ref=result["id"], status=result["status"], amount=wire.from_minor(result["amount"], currency))

    def retrieve(self, *, intent_ref: str) -> Intent:
        return wire.intent_from_dict(_intent_json(TestPspIntent.objects.get(pk=intent_ref)))

    def parse_webhook(self, *, body: bytes, headers: dict[str, str]) -> Event:
        if not settings.BILLING_TESTPSP_WEBHOOK_SECRET:  # start-up refuses this too (core.checks); never verify with no key
            raise ProviderError("signature_invalid")
        header = headers.get(SIGNATURE_HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        timestamp = int(parts["t"]) if parts.get("t", "").isdigit() else 0
        expected = sign(body, timestamp=timestamp).split("v1=")[1]
        if abs(time.time() - timestamp) > TOLERANCE_S or not hmac.compare_digest(expected, parts.get("v1", "")):
            raise ProviderError("signature_invalid")
        return wire.event_from_dict(json.loads(body))


def _authorise(intent: TestPspIntent, behaviour: str, capture: bool) -> dict[str, Any]:
    if behaviour in ("declined", "nofunds") or (capture and behaviour == "capturefails"):
        intent.status = "requires_payment_method"
        intent.save(update_fields=["status"])
        code = {"declined": "card_declined", "nofunds": "insufficient_funds"}.get(behaviour, "capture_failed")
        _emit("payment_intent.payment_failed", {**_intent_json(intent), "last_payment_error": {"decline_code": code}})
        return _declined(code)
    if behaviour == "threeds":
        intent.status = "requires_action"
        intent.metadata = {**intent.metadata, "_capture": capture}
        intent.save(update_fields=["status", "metadata"])
        return {"result": _intent_json(intent, {"type": "redirect_to_url", "redirect_to_url": {
            "url": f"https://testpsp.invalid/3ds/{intent.id}"}})}
    _settle(intent, capture)
    return {"result": _intent_json(intent), "_timeout": behaviour == "timeout"}


def _settle(intent: TestPspIntent, capture: bool) -> None:
    if capture:
        intent.status, intent.amount_received = "succeeded", intent.amount
        _emit_after = "payment_intent.succeeded"
    else:
        intent.status, intent.amount_capturable = "requires_capture", intent.amount
        _emit_after = "payment_intent.amount_capturable_updated"
    intent.save()
    _emit(_emit_after, _intent_json(intent))


def _charge_json(intent: TestPspIntent) -> dict[str, Any]:
    c = intent.currency
    return {"id": f"ch_{intent.id[3:]}", "object": "charge", "payment_intent": intent.id, "currency": c.lower(),
            "amount": wire.to_minor(intent.amount_received, c),
            "amount_refunded": wire.to_minor(intent.amount_refunded, c)}


@transaction.atomic
def confirm_3ds(intent_ref: str, *, succeed: bool = True) -> None:
    """The rider completes (or fails) the 3-D Secure challenge in the app."""
    intent = TestPspIntent.objects.select_for_update().get(pk=intent_ref, status="requires_action")
    if succeed:
        _settle(intent, bool(intent.metadata.get("_capture")))
    else:
        intent.status = "requires_payment_method"
        intent.save(update_fields=["status"])
        _emit("payment_intent.payment_failed", {**_intent_json(intent),
                                                "last_payment_error": {"code": "authentication_failed"}})


@transaction.atomic
def dispute(intent_ref: str, *, amount: Decimal | None = None) -> None:
    """The cardholder's bank opens a chargeback."""
    intent = TestPspIntent.objects.get(pk=intent_ref)
    minor = wire.to_minor(amount if amount is not None else intent.amount_received, intent.currency)
    _emit("charge.dispute.created", {"id": f"dp_{uuid.uuid4().hex}", "object": "dispute", "payment_intent": intent.id,
                                     "amount": minor, "currency": intent.currency.lower(), "reason": "fraudulent"})
