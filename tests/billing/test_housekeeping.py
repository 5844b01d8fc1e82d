"""The wallet-only start rule, orphan hold voiding, and refusing to delete an account in debt."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.services import users
from billing import errors, tasks
from billing.models import AccountKind, Payment, TestPspIntent
from billing.providers.base import ProviderTimeout
from billing.providers.testpsp import TestPsp
from billing.services import rides, wallet
from tests.billing.conftest import add_card, fund
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db


def test_a_rider_without_a_card_rides_on_the_minimum_balance_and_a_longer_ride_ends_in_debt(rider):
    wallet.bonus_grant(user=rider, amount=Decimal("5.00"), currency="EUR", source=AccountKind.PROMOTIONS,
                       idempotency_key="welcome", description="welcome credit")  # no card at all
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("10.00"), currency="EUR")
    assert billing.method == "wallet"
    billing = rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("7.00"))
    assert (billing.paid_wallet, billing.debt) == (Decimal("5.00"), Decimal("2.00"))


def test_a_hold_confirmed_after_the_ride_gave_up_is_voided_by_the_sweeper(rider, monkeypatch):
    add_card(rider)
    real = TestPsp.authorise

    def answer_lost(self, **kwargs):
        real(self, **kwargs)
        raise ProviderTimeout("lost")

    monkeypatch.setattr(TestPsp, "authorise", answer_lost)
    with pytest.raises(errors.PaymentProviderUnavailable):
        rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("10.00"), currency="EUR")
    hold = Payment.objects.get()
    from billing.services import payments

    payments.payment_apply_intent(payment_id=hold.pk, intent=TestPsp().retrieve(
        intent_ref=TestPspIntent.objects.get().pk))  # what the webhook does
    assert Payment.objects.get().status == "authorised"
    assert tasks.orphan_holds_void() == 0  # too young: the ride may still be starting
    Payment.objects.update(created_at=hold.created_at - timedelta(hours=1))
    assert tasks.orphan_holds_void() == 1
    assert TestPspIntent.objects.get().status == "canceled" and Payment.objects.get().status == "voided"


def test_an_account_in_debt_cannot_be_deleted(rider):
    fund(rider, "5.00")
    add_card(rider, "tok_captureFails")
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("8.00"))
    with pytest.raises(errors.OutstandingDebt):
        users.user_delete(user=rider)
    rider.refresh_from_db()
    assert rider.status == "active"
    wallet.wallet_top_up(user=rider, amount=Decimal("5.00"), currency="EUR",
                         payment_method_id=add_card(rider).pk)
    users.user_delete(user=rider)
