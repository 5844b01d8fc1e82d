"""Settle my balance: the exact debt to a card, once, even when asked twice at once."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from billing import selectors
from billing.models import LedgerTransaction, Payment, TestPspIntent
from billing.providers import testpsp
from billing.services import fees
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, deliver

pytestmark = pytest.mark.django_db
SETTLE = "/api/v1/wallet/settle"


def _owe(user, amount="1.25", currency="EUR"):
    """Debt as a rider gets it: a reservation fee the wallet could not cover, with no card to charge."""
    fees.reservation_fee_charge(user=user, reservation_id=uuid.uuid4(), amount=Decimal(amount), currency=currency)


def _balance(user, currency="EUR"):
    return selectors.wallet_balance(user=user, currency=currency)


def test_a_debt_below_the_minimum_top_up_is_charged_exactly_and_cleared(api, rider):
    _owe(rider)
    card = add_card(rider)
    top_up = api.as_(rider).post("/api/v1/wallet/top-ups", {"amount": {"amount": "1.25", "currency": "EUR"},
                                                            "payment_method": str(card.pk)}, format="json")
    assert (top_up.status_code, top_up.json()["error"]["code"]) == (422, "amount_invalid")

    r = api.as_(rider).post(SETTLE, {}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["amount"] == {"amount": "1.25", "currency": "EUR"}
    assert (body["payment"]["purpose"], body["payment"]["status"]) == ("debt_settle", "captured")
    assert (body["expected"], body["amount_changed"]) == (None, False)
    assert body["balance"]["debt"] == {"amount": "0.00", "currency": "EUR"}
    assert body["balance"]["cash"] == {"amount": "0.00", "currency": "EUR"}
    assert TestPspIntent.objects.get().amount_received == Decimal("1.25")
    assert (_balance(rider).debt, _balance(rider).cash) == (Decimal(0), Decimal(0))
    kinds = set(LedgerTransaction.objects.filter(user=rider).values_list("kind", flat=True))
    assert kinds == {"reservation_fee", "card_payment", "debt_settlement"}
    # Nothing left: a second settle is a 409 with its own code, and charges nothing.
    again = api.as_(rider).post(SETTLE, {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nothing_to_settle")
    assert Payment.objects.filter(purpose="debt_settle").count() == 1


def test_a_retry_with_the_same_idempotency_key_replays_the_answer_and_charges_once(api, rider):
    _owe(rider)
    add_card(rider)
    first = api.as_(rider).post(SETTLE, {}, format="json", HTTP_IDEMPOTENCY_KEY="settle-1")
    retry = api.as_(rider).post(SETTLE, {}, format="json", HTTP_IDEMPOTENCY_KEY="settle-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert Payment.objects.filter(purpose="debt_settle").count() == 1 and TestPspIntent.objects.count() == 1


def test_the_charge_is_what_is_owed_when_charging_and_the_answer_says_it_changed(api, rider):
    _owe(rider, "1.25")
    card = add_card(rider, "tok_chargeDeclined")
    declined = api.as_(rider).post(SETTLE, {"payment_method": str(card.pk)}, format="json")
    assert (declined.status_code, declined.json()["error"]["code"]) == (422, "payment_declined")
    _owe(rider, "0.50")  # the app still shows 1.25
    add_card(rider)
    r = api.as_(rider).post(SETTLE, {"expected": {"amount": "1.25", "currency": "EUR"}}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["amount"] == {"amount": "1.75", "currency": "EUR"}
    assert (r.json()["expected"], r.json()["amount_changed"]) == ({"amount": "1.25", "currency": "EUR"}, True)
    assert _balance(rider).debt == Decimal(0)
    settlements = Payment.objects.filter(purpose="debt_settle").order_by("created_at")
    assert list(settlements.values_list("status", "amount")) == [
        ("failed", Decimal("1.25")), ("captured", Decimal("1.75"))]


def test_nothing_owed_and_no_card_are_refused_with_their_codes_and_write_nothing(api, rider, other_rider):
    add_card(rider)
    r = api.as_(rider).post(SETTLE, {}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "nothing_to_settle")
    _owe(other_rider)
    r = api.as_(other_rider).post(SETTLE, {}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "payment_method_required")
    theirs = add_card(rider)
    r = api.as_(other_rider).post(SETTLE, {"payment_method": str(theirs.pk)}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "payment_method_not_found")
    assert not Payment.objects.exists() and _balance(other_rider).debt == Decimal("1.25")


def test_debts_in_two_currencies_need_a_currency(api, rider):
    _owe(rider, "1.25", "EUR")
    _owe(rider, "2.00", "CHF")
    add_card(rider)
    r = api.as_(rider).post(SETTLE, {}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "settlement_currency_required")
    assert r.json()["error"]["details"]["currencies"] == ["CHF", "EUR"]
    r = api.as_(rider).post(SETTLE, {"currency": "chf"}, format="json")
    assert r.status_code == 201 and r.json()["amount"] == {"amount": "2.00", "currency": "CHF"}
    assert (_balance(rider, "CHF").debt, _balance(rider, "EUR").debt) == (Decimal(0), Decimal("1.25"))
    r = api.as_(rider).post(SETTLE, {"currency": "EUR", "expected": {"amount": "1.25", "currency": "CHF"}},
                            format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "currency_mismatch")


def test_3ds_settles_by_webhook_and_an_abandoned_challenge_is_replaced(api, rider):
    _owe(rider)
    add_card(rider, "tok_threeDSecure")
    first = api.as_(rider).post(SETTLE, {}, format="json")
    assert first.status_code == 202 and first.json()["payment"]["status"] == "requires_action"
    assert first.json()["payment"]["next_action"]
    assert _balance(rider).debt == Decimal("1.25")  # nothing moves before the rider confirms
    # The rider abandoned the challenge and asks again: the old one is voided, a new one is asked for.
    second = api.as_(rider).post(SETTLE, {}, format="json")
    assert second.status_code == 202
    old = Payment.objects.get(pk=first.json()["payment"]["id"])
    assert old.status == "voided"
    new = Payment.objects.get(pk=second.json()["payment"]["id"])
    testpsp.confirm_3ds(new.provider_ref)
    deliver(api)
    new.refresh_from_db()
    assert new.status == "captured" and _balance(rider).debt == Decimal(0)
    with pytest.raises(TestPspIntent.DoesNotExist):  # the voided challenge can no longer be completed
        testpsp.confirm_3ds(old.provider_ref)


def test_a_settlement_whose_answer_is_lost_is_not_charged_again(api, rider, monkeypatch):
    from billing.providers.base import ProviderTimeout

    _owe(rider)
    add_card(rider)
    real = testpsp.TestPsp.authorise

    def authorise_then_lose_the_answer(self, **kwargs):  # the network edge: money moves, no answer comes back
        real(self, **kwargs)
        raise ProviderTimeout("network")

    monkeypatch.setattr(testpsp.TestPsp, "authorise", authorise_then_lose_the_answer)
    r = api.as_(rider).post(SETTLE, {}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (503, "payment_provider_unavailable")
    # Asked again (same key): the provider replays the same intent, and the answer is lost again.
    again = api.as_(rider).post(SETTLE, {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (503, "payment_provider_unavailable")
    assert Payment.objects.get(purpose="debt_settle").status == "unknown"
    assert TestPspIntent.objects.count() == 1
    deliver(api)  # the provider's webhook brings the answer: the debt is paid
    assert _balance(rider).debt == Decimal(0)
    assert api.as_(rider).post(SETTLE, {}, format="json").json()["error"]["code"] == "nothing_to_settle"


def test_a_lost_answer_is_asked_again_with_the_same_key_and_never_charged_twice(api, rider, monkeypatch):
    from billing.providers.base import ProviderTimeout

    _owe(rider)
    add_card(rider)
    real = testpsp.TestPsp.authorise

    def authorise_then_lose_the_answer(self, **kwargs):
        real(self, **kwargs)
        raise ProviderTimeout("network")

    monkeypatch.setattr(testpsp.TestPsp, "authorise", authorise_then_lose_the_answer)
    assert api.as_(rider).post(SETTLE, {}, format="json").status_code == 503
    monkeypatch.setattr(testpsp.TestPsp, "authorise", real)  # the network is back; no webhook came
    again = api.as_(rider).post(SETTLE, {}, format="json")
    assert again.status_code == 201, again.json()
    payment = Payment.objects.get(purpose="debt_settle")  # the same payment, asked again
    assert again.json()["payment"]["id"] == str(payment.pk) and payment.status == "captured"
    assert TestPspIntent.objects.count() == 1 and TestPspIntent.objects.get().amount_received == Decimal("1.25")
    assert (_balance(rider).debt, _balance(rider).cash) == (Decimal(0), Decimal(0))


def test_a_settlement_whose_request_died_is_recovered_after_a_while(api, rider, monkeypatch):
    from billing.services import settle

    _owe(rider)
    add_card(rider)
    real = testpsp.TestPsp.authorise

    def authorise_then_crash(self, **kwargs):  # the process dies after the provider moved the money
        real(self, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(testpsp.TestPsp, "authorise", authorise_then_crash)
    with pytest.raises(KeyboardInterrupt):
        api.as_(rider).post(SETTLE, {}, format="json")
    monkeypatch.setattr(testpsp.TestPsp, "authorise", real)
    payment = Payment.objects.get(purpose="debt_settle")
    assert payment.status == "pending"
    soon = api.as_(rider).post(SETTLE, {}, format="json")  # it may still be in flight: not overtaken
    assert (soon.status_code, soon.json()["error"]["code"]) == (409, "settlement_in_progress")
    Payment.objects.filter(pk=payment.pk).update(updated_at=payment.updated_at - settle.STALE_PENDING)
    later = api.as_(rider).post(SETTLE, {}, format="json")
    assert later.status_code == 201 and later.json()["payment"]["id"] == str(payment.pk)
    assert TestPspIntent.objects.count() == 1 and _balance(rider).debt == Decimal(0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_settles_charge_once():
    from django.test import Client
    from rest_framework_simplejwt.tokens import RefreshToken

    rider = UserFactory.create()
    _owe(rider)
    add_card(rider)
    token = str(RefreshToken.for_user(rider).access_token)
    barrier, answers = threading.Barrier(4), []

    def settle():
        try:
            barrier.wait()
            r = Client().post(SETTLE, data={}, content_type="application/json",
                              headers={"Authorization": f"Bearer {token}"})
            answers.append((r.status_code, r.json().get("error", {}).get("code")))
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers.sort()
    assert answers[0] == (201, None) and len(answers) == 4
    assert set(answers[1:]) <= {(409, "nothing_to_settle"), (409, "settlement_in_progress")}
    assert Payment.objects.filter(purpose="debt_settle").count() == 1
    assert TestPspIntent.objects.count() == 1 and TestPspIntent.objects.get().amount_received == Decimal("1.25")
    assert (_balance(rider).debt, _balance(rider).cash) == (Decimal(0), Decimal(0))
