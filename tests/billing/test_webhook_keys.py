"""Provider ids are opaque strings of up to 255 characters: a webhook event or a dispute with an id that long is
recorded once, like a short one, and the keys built from short ids keep their readable form."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from billing.models import LedgerTransaction, WebhookEvent
from billing.providers import testpsp
from billing.services import wallet
from core.keys import bounded_key
from tests.billing.conftest import add_card, deliver

pytestmark = pytest.mark.django_db


def _dispute_events(rider, api):
    card = add_card(rider)
    payment = wallet.wallet_top_up(user=rider, amount=Decimal("20.00"), currency="EUR", payment_method_id=card.pk)
    deliver(api)
    testpsp.dispute(payment.provider_ref)
    (body, _), = testpsp.pending_events()
    return json.loads(body)


def _signed(payload):
    body = json.dumps(payload).encode()
    return body, {testpsp.SIGNATURE_HEADER: testpsp.sign(body)}


def test_a_dispute_with_255_character_ids_is_recorded_once(api, rider):
    payload = _dispute_events(rider, api)
    dispute_id = "dp_" + "d" * 252
    payload["id"], payload["data"]["object"]["id"] = "evt_" + "e" * 251, dispute_id
    again = {**payload, "id": "evt_" + "e" * 250 + "f"}  # the same dispute in another event, equal for 250 chars
    responses = deliver(api, [_signed(payload), _signed(payload), _signed(again)])
    assert [(r.status_code, r.json()["outcome"]) for r in responses] == [(200, "chargeback_recorded")] * 3
    assert WebhookEvent.objects.filter(type="charge.dispute.created").count() == 2
    txn = LedgerTransaction.objects.get(kind="chargeback")
    assert len(txn.idempotency_key) == 200 and txn.idempotency_key.startswith("chargeback:dp_ddd")
    assert sorted(e.amount for e in txn.entries.all()) == [Decimal("-20.00"), Decimal("20.00")]


def test_short_ids_keep_their_readable_keys(api, rider):
    payload = _dispute_events(rider, api)
    assert deliver(api, [_signed(payload)])[0].json()["outcome"] == "chargeback_recorded"
    dispute_id = payload["data"]["object"]["id"]
    assert LedgerTransaction.objects.get(kind="chargeback").idempotency_key == f"chargeback:{dispute_id}"
    assert WebhookEvent.objects.filter(event_id=payload["id"]).exists()


def test_bounded_key_is_the_key_when_it_fits_else_head_and_digest() -> None:
    assert bounded_key("chargeback:dp_1", max_length=200) == "chargeback:dp_1"
    long_a, long_b = "k" * 300 + "a", "k" * 300 + "b"
    assert len(bounded_key(long_a, max_length=200)) == 200
    assert bounded_key(long_a, max_length=200) == bounded_key(long_a, max_length=200)
    assert bounded_key(long_a, max_length=200) != bounded_key(long_b, max_length=200)
