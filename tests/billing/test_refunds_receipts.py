"""Refunds (finance permission), goodwill credit, receipts (JSON and printable HTML)."""

from __future__ import annotations

import re
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from accounts.services import roles
from billing import errors, selectors
from billing.models import LedgerTransaction, Refund, RideBilling, TestPspIntent
from billing.services import refunds, rides
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, fund
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db


def _staff(role: str) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _card_ride(rider: Any, total: str = "6.00") -> RideBilling:
    add_card(rider)
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("10.00"), currency="EUR")
    return rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of(total))


def _refund(api: Any, user: Any, ride_id: Any, amount: str, currency: str = "EUR") -> Any:
    return api.as_(user).post(f"/api/v1/billing/rides/{ride_id}/refunds",
                              {"amount": {"amount": amount, "currency": currency}, "reason": "scooter broke"},
                              format="json")


def test_only_finance_may_refund(api, rider):
    billing = _card_ride(rider)
    support = _staff("support_agent")
    r = _refund(api, support, billing.ride_id, "1.00")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    r = _refund(api, rider, billing.ride_id, "1.00")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    assert not Refund.objects.exists()


def test_a_partial_refund_goes_back_to_the_card_and_reverses_revenue_and_vat(api, rider):
    billing = _card_ride(rider, "5.95")
    r = _refund(api, _staff("finance"), billing.ride_id, "2.38")
    assert r.status_code == 201, r.json()
    assert (r.json()["to_card"]["amount"], r.json()["to_wallet"]["amount"]) == ("2.38", "0.00")
    assert TestPspIntent.objects.get().amount_refunded == Decimal("2.38")
    txn = LedgerTransaction.objects.get(kind="refund")
    amounts = {e.account.kind: e.amount for e in txn.entries.select_related("account")}
    assert amounts == {"refunds": Decimal("2.00"), "vat_payable": Decimal("0.38"), "psp_clearing": Decimal("-2.38")}
    call_command("billing_reconcile")


def test_a_wallet_paid_ride_is_refunded_to_the_wallet(rider):
    fund(rider, "10.00")
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("4.00"))
    refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("4.00"), reason="test", actor=None)
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("10.00")


def test_bonus_spent_on_a_ride_is_refunded_as_bonus_not_cash(rider):
    from billing.models import AccountKind
    from billing.services import wallet

    fund(rider, "10.00")
    wallet.bonus_grant(user=rider, amount=Decimal("2.00"), currency="EUR", source=AccountKind.PROMOTIONS,
                       idempotency_key="b", description="promo")
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("5.00"))  # 2.00 bonus + 3.00 cash
    refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("1.50"), reason="a", actor=None)
    refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("3.50"), reason="b", actor=None)
    balance = selectors.wallet_balance(user=rider, currency="EUR")
    assert (balance.bonus, balance.cash) == (Decimal("2.00"), Decimal("10.00"))
    call_command("billing_reconcile")


@pytest.mark.parametrize(("amount", "currency", "code", "status"), [
    ("6.01", "EUR", "refund_exceeds_charge", 422),
    ("-1.00", "EUR", "amount_invalid", 422),
    ("1.00", "USD", "currency_mismatch", 422),
])
def test_bad_refunds_are_refused_and_write_nothing(api, rider, amount, currency, code, status):
    billing = _card_ride(rider)
    r = _refund(api, _staff("finance"), billing.ride_id, amount, currency)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert not Refund.objects.exists() and not LedgerTransaction.objects.filter(kind="refund").exists()


def test_refunding_a_ride_that_was_not_charged_is_a_conflict(api):
    r = _refund(api, _staff("finance"), uuid.uuid4(), "1.00")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ride_not_charged")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refunds_never_exceed_the_charge():
    rider = UserFactory.create()
    billing = _card_ride(rider, "5.00")
    barrier, failures = threading.Barrier(5), []

    def refund() -> None:
        try:
            barrier.wait()
            refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("2.00"), reason="x", actor=None)
        except errors.RefundExceedsCharge as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refund) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 3 and Refund.objects.filter(status="succeeded").count() == 2
    assert TestPspIntent.objects.get().amount_refunded == Decimal("4.00")
    call_command("billing_reconcile")


def test_goodwill_credit_needs_the_permission(api, rider):
    transactions = LedgerTransaction.objects.count()
    r = api.as_(rider).post("/api/v1/billing/goodwill", {"user": str(rider.pk), "reason": "sorry",
                                                         "amount": {"amount": "5.00", "currency": "EUR"}},
                            format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    assert LedgerTransaction.objects.count() == transactions
    r = api.as_(_staff("support_agent")).post(
        "/api/v1/billing/goodwill", {"user": str(rider.pk), "reason": "sorry",
                                     "amount": {"amount": "5.00", "currency": "EUR"}}, format="json")
    assert r.status_code == 201
    assert selectors.wallet_balance(user=rider, currency="EUR").bonus == Decimal("5.00")


def test_receipt_json_and_html_are_private(api, rider, other_rider, client):
    billing = _card_ride(rider, "5.95")
    refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("1.00"), reason="Bumpy ride", actor=None)
    body = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt").json()
    assert body["total"] == {"amount": "5.95", "currency": "EUR"} and body["vat"]["amount"] == "0.95"
    assert body["paid"]["card"]["amount"] == "5.95" and body["refunds"][0]["reason"] == "Bumpy ride"
    assert [(line["kind"], line["amount"]["amount"]) for line in body["lines"]] == [("unlock", "5.95"), ("riding", "0.00")]
    other = api.as_(other_rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt")
    assert (other.status_code, other.json()["error"]["code"]) == (404, "ride_billing_not_found")
    html = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt.html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert b"5.95" in html.content and b"Bumpy ride" in html.content
    nonce = re.search(r"style-src 'self' 'nonce-([^']+)'", html["Content-Security-Policy"]).group(1)  # type: ignore[union-attr]
    assert html.content.decode().count(f'nonce="{nonce}"') == 2 and b"onclick" not in html.content  # style, script
    client.force_login(_staff("finance"))
    assert client.get(f"/api/v1/billing/rides/{billing.ride_id}/receipt.html").status_code == 200
