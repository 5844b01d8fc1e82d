"""A randomised sequence of top-ups, rides (holds, captures, extra charges, failures), releases, bonuses and
webhooks delivered shuffled and duplicated: the ledger always reconciles, and a tampered balance is caught."""

from __future__ import annotations

import contextlib
import random
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing import errors, selectors
from billing.models import AccountKind, LedgerAccount, LedgerTransaction
from billing.providers import testpsp
from billing.selectors import wallet as wallet_selectors
from billing.services import rides, wallet
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, deliver
from tests.billing.test_ride_money import fare_of

pytestmark = pytest.mark.django_db
TOKENS = ["tok_visa", "tok_visa", "tok_timeout", "tok_chargeDeclined", "tok_insufficientFunds", "tok_captureFails",
          "tok_threeDSecure"]


def _step(rng: random.Random, rider, api) -> None:
    action = rng.choice(["top_up", "ride", "ride", "cancel", "bonus", "card", "webhooks"])
    amount = Decimal(rng.randint(100, 3000)) / 100
    if action == "card":
        add_card(rider, rng.choice(TOKENS))
    elif action == "top_up" and (method := wallet_selectors.payment_method_default(user=rider)) is not None:
        payment = wallet.wallet_top_up(user=rider, amount=max(amount, Decimal(5)), currency="EUR",
                                       payment_method_id=method.pk)
        if payment.status == "requires_action":
            testpsp.confirm_3ds(payment.provider_ref, succeed=rng.random() < 0.7)
    elif action in ("ride", "cancel"):
        billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
        if action == "cancel":
            rides.ride_hold_release(ride_id=billing.ride_id)
        else:
            rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of(str(amount)))
    elif action == "bonus":
        wallet.bonus_grant(user=rider, amount=amount, currency="EUR", source=AccountKind.PROMOTIONS,
                           idempotency_key=str(uuid.uuid4()), description="promo")
    else:
        events = testpsp.pending_events()
        rng.shuffle(events)
        deliver(api, events + rng.sample(events, k=len(events) // 2))


@pytest.mark.parametrize("seed", range(4))
def test_random_money_sequences_always_reconcile(api, seed):
    rng = random.Random(seed)
    riders = [UserFactory.create() for _ in range(3)]
    for rider in riders:
        add_card(rider)
    for _ in range(50):
        # Refusals are part of the sequence; they must leave the books consistent.
        with contextlib.suppress(errors.PaymentDeclined, errors.PaymentInsufficientFunds, errors.NoPaymentMethod,
                                 errors.OutstandingDebt, errors.PaymentActionRequired):
            _step(rng, rng.choice(riders), api)
    deliver(api)
    call_command("billing_reconcile")
    kinds = set(LedgerTransaction.objects.values_list("kind", flat=True))
    assert {"card_payment", "ride_charge", "bonus"} <= kinds, kinds  # the sequence exercised the money paths
    for rider in riders:
        balance = selectors.wallet_balance(user=rider, currency="EUR")
        assert balance.cash >= 0 and balance.bonus >= 0 and balance.debt >= 0
        assert not (balance.cash > 0 and balance.debt > 0)  # cash always pays debt off first
    account = LedgerAccount.objects.order_by("?").first()
    assert account is not None
    LedgerAccount.objects.filter(pk=account.pk).update(balance=account.balance - Decimal("0.01"))
    with pytest.raises(CommandError):
        call_command("billing_reconcile")
