"""The Stripe adapter, tested at the HTTP edge: Stripe's HTTP client is replaced, our code and the library run."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import stripe

from billing import errors, selectors
from billing.models import LedgerTransaction, Payment, WebhookEvent
from billing.providers import stripe as stripe_adapter
from billing.providers.base import ProviderDeclined, ProviderError, ProviderTimeout
from billing.services import methods, rides, wallet
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db
SECRET = "whsec_test_secret"


def _pi(status: str, amount: int, *, capturable: int = 0, received: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": "pi_123", "object": "payment_intent", "status": status, "amount": amount, "currency": "eur",
            "amount_capturable": capturable, "amount_received": received, "metadata": {}, **extra}


class FakeStripeHttp(stripe.HTTPClient):
    """Answers like api.stripe.com from a queue of (status, body) per (method, path); records every request."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.routes: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
        self.requests: list[dict[str, Any]] = []

    def on(self, method: str, path: str, *answers: tuple[int, dict[str, Any]]) -> None:
        self.routes.setdefault((method, path), []).extend(answers)

    def request(self, method: str, url: str, headers: Any, post_data: Any = None, *, _usage: Any = None) -> Any:
        path = url.split("api.stripe.com", 1)[1].split("?")[0]
        self.requests.append({"method": method, "path": path, "headers": dict(headers or {}),
                              "data": parse_qs(post_data.decode() if isinstance(post_data, bytes) else post_data or "")})
        queue = self.routes[(method, path)]
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if status == 0:
            raise stripe.APIConnectionError("read timed out")
        return json.dumps(body), status, {"request-id": "req_1"}

    def close(self) -> None:
        pass


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch, settings: Any) -> FakeStripeHttp:
    fake = FakeStripeHttp()
    monkeypatch.setattr(stripe_adapter.StripeProvider, "http_client", fake)
    settings.BILLING_PROVIDER, settings.STRIPE_WEBHOOK_SECRET = "stripe", SECRET
    fake.on("post", "/v1/customers", (200, {"id": "cus_1", "object": "customer"}))
    fake.on("post", "/v1/payment_methods/pm_card_visa/attach", (200, {
        "id": "pm_1", "object": "payment_method", "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 4, "exp_year": 2031}}))
    return fake


def test_a_card_is_attached_to_a_new_customer_with_idempotency_keys(http, rider):
    method = methods.payment_method_add(user=rider, token="pm_card_visa")
    assert (method.provider, method.ref, method.last4) == ("stripe", "pm_1", "4242")
    assert [r["path"] for r in http.requests] == ["/v1/customers", "/v1/payment_methods/pm_card_visa/attach"]
    assert http.requests[0]["headers"]["Idempotency-Key"] == f"customer:{rider.pk}"
    assert all(r["headers"].get("Idempotency-Key") for r in http.requests)


def test_a_phone_only_rider_is_created_at_stripe_without_the_placeholder_address(http, rider):
    from accounts.models import User, placeholder_email

    User.objects.filter(pk=rider.pk).update(email=placeholder_email("phone"), phone="+4915112340001")
    rider.refresh_from_db()
    methods.payment_method_add(user=rider, token="pm_card_visa")
    sent = http.requests[0]["data"]
    assert "email" not in sent and sent["metadata[user_id]"] == [str(rider.pk)]


def test_a_rider_with_an_address_is_created_at_stripe_with_it(http, rider):
    methods.payment_method_add(user=rider, token="pm_card_visa")
    assert http.requests[0]["data"]["email"] == [rider.email]


def test_a_ride_hold_is_a_manual_capture_intent_and_the_capture_is_partial(http, rider):
    methods.payment_method_add(user=rider, token="pm_card_visa")
    http.on("post", "/v1/payment_intents", (200, _pi("requires_capture", 1000, capturable=1000)))
    http.on("post", "/v1/payment_intents/pi_123/capture", (200, _pi("succeeded", 1000, received=420)))
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("10.00"), currency="EUR")
    assert billing.hold is not None
    create = http.requests[-1]
    assert create["data"]["capture_method"] == ["manual"] and create["data"]["amount"] == ["1000"]
    assert create["headers"]["Idempotency-Key"] == f"authorise:{billing.hold.pk}"
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("4.20"))
    capture = http.requests[-1]
    assert capture["data"]["amount_to_capture"] == ["420"]
    assert capture["headers"]["Idempotency-Key"] == f"capture:{billing.hold.pk}"
    assert Payment.objects.get(pk=billing.hold.pk).amount_captured == Decimal("4.20")


def test_a_capture_timeout_is_retried_with_the_same_key(http, rider):
    methods.payment_method_add(user=rider, token="pm_card_visa")
    http.on("post", "/v1/payment_intents", (200, _pi("requires_capture", 500, capturable=500)))
    http.on("post", "/v1/payment_intents/pi_123/capture", (0, {}), (200, _pi("succeeded", 500, received=500)))
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    assert billing.hold is not None
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("5.00"))
    keys = [r["headers"]["Idempotency-Key"] for r in http.requests if r["path"].endswith("/capture")]
    assert keys == [f"capture:{billing.hold.pk}"] * 2
    assert LedgerTransaction.objects.filter(kind="card_payment").count() == 1
    assert selectors.wallet_balance(user=rider, currency="EUR").debt == 0


def test_a_decline_maps_to_the_decline_code(http, rider):
    card = methods.payment_method_add(user=rider, token="pm_card_visa")
    http.on("post", "/v1/payment_intents", (402, {"error": {
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "No."}}))
    with pytest.raises(errors.PaymentInsufficientFunds):
        wallet.wallet_top_up(user=rider, amount=Decimal("10.00"), currency="EUR", payment_method_id=card.pk)
    assert Payment.objects.get().status == "failed"


def test_errors_translate_to_the_provider_interface(http):
    provider = stripe_adapter.StripeProvider()
    http.on("post", "/v1/payment_intents/pi_9/cancel", (400, {"error": {"type": "invalid_request_error",
                                                                         "code": "payment_intent_unexpected_state"}}))
    with pytest.raises(ProviderError) as info:
        provider.void(intent_ref="pi_9", idempotency_key="v")
    assert not isinstance(info.value, ProviderDeclined) and info.value.code == "payment_intent_unexpected_state"
    http.on("get", "/v1/payment_intents/pi_9", (503, {"error": {"type": "api_error"}}))
    with pytest.raises(ProviderTimeout):
        provider.retrieve(intent_ref="pi_9")


def _signed(payload: dict[str, Any], secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    t = int(time.time())
    sig = stripe.WebhookSignature._compute_signature(f"{t}.{body.decode()}", secret)
    return body, {"Stripe-Signature": f"t={t},v1={sig}"}


def test_webhooks_are_verified_with_stripes_signature(http, api, rider):
    methods.payment_method_add(user=rider, token="pm_card_visa")
    http.on("post", "/v1/payment_intents", (200, _pi("requires_action", 1000, next_action={"type": "use_stripe_sdk"})))
    card = rider.payment_methods.get()
    payment = wallet.wallet_top_up(user=rider, amount=Decimal("10.00"), currency="EUR", payment_method_id=card.pk)
    assert payment.status == "requires_action"
    event = {"id": "evt_1", "type": "payment_intent.succeeded", "created": 1,
             "data": {"object": _pi("succeeded", 1000, received=1000)}}
    url = "/api/v1/billing/webhooks/stripe"
    body, headers = _signed(event, "whsec_wrong")
    r = api.post(url, data=body, content_type="application/json", headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "webhook_signature_invalid")
    assert not WebhookEvent.objects.exists() and selectors.wallet_balance(user=rider, currency="EUR").cash == 0
    body, headers = _signed(event)
    r = api.post(url, data=body, content_type="application/json", headers=headers)
    assert (r.status_code, r.json()["outcome"]) == (200, "payment_captured")
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("10.00")
