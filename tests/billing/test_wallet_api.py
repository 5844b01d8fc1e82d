"""Wallet, top-ups and payment methods through the HTTP API, against the built-in test provider."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing import selectors
from billing.models import LedgerTransaction, Payment, PaymentMethod, TestPspIntent
from billing.providers import testpsp
from tests.billing.conftest import add_card, deliver, fund

pytestmark = pytest.mark.django_db
TOP_UP = "/api/v1/wallet/top-ups"


def _top_up(api, rider, card, amount="10.00", currency="EUR"):
    return api.as_(rider).post(TOP_UP, {"amount": {"amount": amount, "currency": currency},
                                        "payment_method": str(card.pk)}, format="json")


def test_adding_a_card_creates_a_customer_and_makes_it_default(api, rider):
    r = api.as_(rider).post("/api/v1/payment-methods", {"token": "4242 4242 4242 4242"}, format="json")
    assert r.status_code == 201 and r.json()["last4"] == "4242" and r.json()["is_default"]
    r2 = api.as_(rider).post("/api/v1/payment-methods", {"token": "tok_chargeDeclined"}, format="json")
    listed = api.as_(rider).get("/api/v1/payment-methods").json()
    assert [m["id"] for m in listed] == [r2.json()["id"], r.json()["id"]]
    assert [m["is_default"] for m in listed] == [True, False]
    assert rider.payment_customers.count() == 1


def test_an_unknown_card_is_refused_with_a_clear_code(api, rider):
    r = api.as_(rider).post("/api/v1/payment-methods", {"token": "tok_nonsense"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "payment_method_invalid")
    assert not PaymentMethod.objects.exists()


def test_a_top_up_charges_the_card_and_credits_the_wallet(api, rider, card):
    r = _top_up(api, rider, card, "12.50")
    assert r.status_code == 201, r.json()
    assert r.json()["status"] == "captured" and r.json()["amount_captured"] == {"amount": "12.50", "currency": "EUR"}
    wallet = api.as_(rider).get("/api/v1/wallet").json()
    assert wallet["balances"][0]["cash"] == {"amount": "12.50", "currency": "EUR"}
    assert TestPspIntent.objects.get().amount_received == Decimal("12.50")
    history = api.as_(rider).get("/api/v1/wallet/transactions").json()
    assert [(e["kind"], e["account"], e["amount"]["amount"]) for e in history["results"]] == [
        ("card_payment", "cash", "12.50")]


@pytest.mark.parametrize(("amount", "currency"), [("-5.00", "EUR"), ("0", "EUR"), ("5.001", "EUR"),
                                                  ("100000", "EUR"), ("1.00", "EUR")])
def test_bad_top_up_amounts_are_refused_and_write_nothing(api, rider, card, amount, currency):
    r = _top_up(api, rider, card, amount, currency)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "amount_invalid")
    assert not Payment.objects.exists() and not TestPspIntent.objects.exists()


def test_a_malformed_amount_is_a_validation_error(api, rider, card):
    r = api.as_(rider).post(TOP_UP, {"amount": "10", "payment_method": str(card.pk)}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_error")


def test_someone_elses_card_is_not_found(api, rider, other_rider):
    theirs = add_card(other_rider)
    r = _top_up(api, rider, theirs)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "payment_method_not_found")
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("token", "code"), [("tok_chargeDeclined", "payment_declined"),
                                             ("tok_insufficientFunds", "card_insufficient_funds")])
def test_a_declined_top_up_credits_nothing(api, rider, token, code):
    card = add_card(rider, token)
    r = _top_up(api, rider, card)
    assert (r.status_code, r.json()["error"]["code"]) == (422, code)
    assert Payment.objects.get().status == "failed"
    assert not LedgerTransaction.objects.exists()
    deliver(api)  # the payment_failed webhook changes nothing
    assert not LedgerTransaction.objects.exists()


def test_3ds_top_up_waits_for_the_webhook(api, rider):
    card = add_card(rider, "tok_threeDSecure")
    r = _top_up(api, rider, card)
    assert r.status_code == 202 and r.json()["status"] == "requires_action"
    assert r.json()["next_action"]["type"] == "redirect_to_url"
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == 0
    testpsp.confirm_3ds(Payment.objects.get().provider_ref)
    assert [x.json()["outcome"] for x in deliver(api)] == ["payment_captured"]
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("10.00")


def test_a_top_up_that_times_out_after_the_money_moved_is_credited_once(api, rider):
    card = add_card(rider, "tok_timeout")
    r = _top_up(api, rider, card, "15.00")
    assert r.status_code == 201  # the retry with the same key got the stored result
    events = testpsp.pending_events()
    deliver(api, events + events)  # duplicated webhooks
    assert TestPspIntent.objects.get().amount_received == Decimal("15.00")
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("15.00")
    assert LedgerTransaction.objects.count() == 1


def test_a_top_up_pays_off_debt_first(api, rider, card):
    from billing.services import rides
    from tests.billing.test_ride_money import fare_of

    fund(rider, "5.00")
    rides.ride_hold_place(rider=rider, ride_id=_uuid(), amount=Decimal("5.00"), currency="EUR")
    add_card(rider, "tok_captureFails")  # the new default card refuses the extra charge: the rest is debt
    ride = rides.RideBilling.objects.get()
    rides.ride_charge_final(ride_id=ride.ride_id, fare=fare_of("8.00"))
    assert selectors.wallet_balance(user=rider, currency="EUR").debt == Decimal("3.00")
    card = add_card(rider)
    assert _top_up(api, rider, card, "10.00").status_code == 201
    balance = selectors.wallet_balance(user=rider, currency="EUR")
    assert (balance.cash, balance.debt) == (Decimal("7.00"), Decimal(0))


def _uuid():
    import uuid

    return uuid.uuid4()


def test_history_is_cursor_paginated_and_private(api, rider, other_rider, django_assert_max_num_queries):
    for _ in range(3):
        fund(rider, "5.00")
    fund(other_rider, "5.00")
    with django_assert_max_num_queries(3):
        page = api.as_(rider).get("/api/v1/wallet/transactions?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = api.as_(rider).get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    ids = {e["id"] for e in page["results"] + rest["results"]}
    assert len(ids) == 3


def test_the_wallet_requires_authentication(api):
    r = api.anonymous().get("/api/v1/wallet")
    assert (r.status_code, r.json()["error"]["code"]) == (401, "not_authenticated")


def test_a_retried_top_up_with_the_same_idempotency_key_charges_once(api, rider, card):
    body = {"amount": {"amount": "10.00", "currency": "EUR"}, "payment_method": str(card.pk)}
    first = api.as_(rider).post(TOP_UP, body, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")
    again = api.as_(rider).post(TOP_UP, body, format="json", HTTP_IDEMPOTENCY_KEY="top-up-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert TestPspIntent.objects.count() == 1
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("10.00")
