"""Webhooks: signature, duplicates, reordering, concurrency; chargebacks."""

from __future__ import annotations

import json
import threading
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client

from billing import selectors
from billing.models import LedgerTransaction, Payment, WebhookEvent
from billing.providers import testpsp
from billing.services import rides
from tests.accounts.factories import UserFactory
from tests.billing.conftest import WEBHOOK_URL, add_card, deliver
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db


def _3ds_top_up(rider, amount="10.00"):
    from billing.services import wallet

    card = add_card(rider, "tok_threeDSecure")
    payment = wallet.wallet_top_up(user=rider, amount=Decimal(amount), currency="EUR", payment_method_id=card.pk)
    testpsp.confirm_3ds(payment.provider_ref)
    return payment


def test_a_bad_signature_is_refused_and_recorded_nowhere(api, rider):
    _3ds_top_up(rider)
    (body, headers), = testpsp.pending_events()
    r = deliver(api, [(body, {testpsp.SIGNATURE_HEADER: headers[testpsp.SIGNATURE_HEADER][:-2] + "00"})])[0]
    assert (r.status_code, r.json()["error"]["code"]) == (400, "webhook_signature_invalid")
    tampered = body.replace(b'"amount_received": 1000', b'"amount_received": 9000')
    r = deliver(api, [(tampered, headers)])[0]
    assert (r.status_code, r.json()["error"]["code"]) == (400, "webhook_signature_invalid")
    assert not WebhookEvent.objects.exists() and selectors.wallet_balance(user=rider, currency="EUR").cash == 0


def test_an_old_signature_is_refused(api, rider):
    payment = _3ds_top_up(rider)
    (body, _), = testpsp.pending_events()
    old = {testpsp.SIGNATURE_HEADER: testpsp.sign(body, timestamp=1_000_000)}
    r = deliver(api, [(body, old)])[0]
    assert (r.status_code, r.json()["error"]["code"]) == (400, "webhook_signature_invalid")
    assert not WebhookEvent.objects.exists() and selectors.wallet_balance(user=rider, currency="EUR").cash == 0
    payment.refresh_from_db()
    assert payment.status == "requires_action"


def test_an_unknown_provider_is_404(api):
    r = api.anonymous().post("/api/v1/billing/webhooks/paypal", data=b"{}", content_type="application/json")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "provider_unknown")


def test_duplicate_deliveries_are_processed_once(api, rider):
    _3ds_top_up(rider)
    events = testpsp.pending_events()
    responses = deliver(api, events * 3)
    assert [r.json()["outcome"] for r in responses] == ["payment_captured"] * 3
    assert WebhookEvent.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1


def test_out_of_order_events_never_move_a_payment_backwards(api, rider):
    add_card(rider)
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("4.00"))
    events = testpsp.pending_events()
    assert [json.loads(b)["type"] for b, _ in events] == [
        "payment_intent.amount_capturable_updated", "payment_intent.succeeded"]
    deliver(api, list(reversed(events)))  # "succeeded" first, the stale "capturable" after it
    assert billing.hold is not None
    hold = Payment.objects.get(pk=billing.hold.pk)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("4.00"))
    assert LedgerTransaction.objects.filter(kind="card_payment").count() == 1
    call_command("billing_reconcile")


def test_a_webhook_settles_a_payment_whose_call_never_answered(api, rider, monkeypatch):
    """The provider took the money but every retry timed out: the webhook (matched by metadata) credits it."""
    from billing.providers.base import ProviderTimeout
    from billing.services import wallet

    card = add_card(rider)
    real = testpsp.TestPsp.authorise

    def authorise_then_lose_the_answer(self, **kwargs):
        real(self, **kwargs)
        raise ProviderTimeout("network")

    monkeypatch.setattr(testpsp.TestPsp, "authorise", authorise_then_lose_the_answer)
    from billing import errors

    with pytest.raises(errors.PaymentProviderUnavailable):
        wallet.wallet_top_up(user=rider, amount=Decimal("9.00"), currency="EUR", payment_method_id=card.pk)
    payment = Payment.objects.get()
    assert (payment.status, payment.provider_ref) == ("unknown", "")
    assert [r.json()["outcome"] for r in deliver(api)] == ["payment_captured"]
    payment.refresh_from_db()
    assert payment.provider_ref.startswith("pi_")
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("9.00")


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_credit_once():
    rider = UserFactory.create()
    _3ds_top_up(rider)
    (body, headers), = testpsp.pending_events()
    barrier, codes = threading.Barrier(6), []

    def post():
        try:
            barrier.wait()
            codes.append(Client().post(WEBHOOK_URL, data=body, content_type="application/json", headers=headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 6
    assert WebhookEvent.objects.count() == 1 and LedgerTransaction.objects.count() == 1
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("10.00")


def test_a_chargeback_is_recorded_once_from_the_webhook(api, rider):
    from billing.services import wallet

    card = add_card(rider)
    payment = wallet.wallet_top_up(user=rider, amount=Decimal("20.00"), currency="EUR", payment_method_id=card.pk)
    deliver(api)
    testpsp.dispute(payment.provider_ref)
    events = testpsp.pending_events()
    assert [r.json()["outcome"] for r in deliver(api, events + events)] == ["chargeback_recorded"] * 2
    txn = LedgerTransaction.objects.get(kind="chargeback")
    assert sorted(e.amount for e in txn.entries.all()) == [Decimal("-20.00"), Decimal("20.00")]
    call_command("billing_reconcile")


def test_only_the_configured_providers_route_exists(api, rider, settings):
    """The test PSP's secret is public in development: with Stripe configured its route must not answer."""
    _3ds_top_up(rider)
    settings.BILLING_PROVIDER = "stripe"
    (r,) = deliver(api)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "provider_unknown")
    assert not WebhookEvent.objects.exists()
    assert Payment.objects.get().status == "requires_action"


def test_the_test_psp_verifies_nothing_without_a_secret(api, rider, settings):
    """Start-up refuses an empty secret off DEBUG (core.checks); the provider refuses it too, not HMAC with ''."""
    _3ds_top_up(rider)
    settings.BILLING_TESTPSP_WEBHOOK_SECRET = ""
    (r,) = deliver(api)  # signed with the empty key, as a forger would
    assert (r.status_code, r.json()["error"]["code"]) == (400, "webhook_signature_invalid")
    assert not WebhookEvent.objects.exists()
