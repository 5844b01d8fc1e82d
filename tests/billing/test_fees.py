"""Reservation fees without a ride: wallet first, then the card, then debt; once per reservation."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from billing import selectors
from billing.models import LedgerTransaction, Payment
from billing.services import fees
from tests.billing.conftest import add_card, fund
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db


def _balance(user):
    return selectors.wallet_balance(user=user, currency="EUR")


def test_fee_paid_from_bonus_then_cash_once_with_revenue_and_vat_to_the_city(rider):
    from billing.models import AccountKind
    from billing.services import ledger, wallet

    city = CityFactory.create(slug="fee-city")
    fund(rider, "5.00")
    wallet.bonus_grant(user=rider, amount=Decimal("0.40"), currency="EUR", source=AccountKind.PROMOTIONS,
                       idempotency_key="b1", description="promo")
    reservation_id = uuid.uuid4()
    for _ in range(2):  # a retry books nothing twice
        fees.reservation_fee_charge(user=rider, reservation_id=reservation_id, amount=Decimal("1.19"),
                                    currency="EUR", vat_rate=Decimal("0.19"), city=city)
    balance = _balance(rider)
    assert (balance.bonus, balance.cash, balance.debt) == (Decimal(0), Decimal("4.21"), Decimal(0))
    assert LedgerTransaction.objects.filter(kind="reservation_fee").count() == 1
    revenue = ledger.system_account(kind=AccountKind.REVENUE, currency="EUR", city=city)
    vat = ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency="EUR", city=city)
    revenue.refresh_from_db()
    vat.refresh_from_db()
    assert (-revenue.balance, -vat.balance) == (Decimal("1.00"), Decimal("0.19"))


def test_what_the_wallet_cannot_cover_is_charged_to_the_card_once(rider):
    add_card(rider)
    reservation_id = uuid.uuid4()
    for _ in range(2):
        fees.reservation_fee_charge(user=rider, reservation_id=reservation_id, amount=Decimal("2.00"), currency="EUR")
    payment = Payment.objects.get(ride_id=reservation_id)
    assert (payment.status, payment.amount_captured) == (Payment.Status.CAPTURED, Decimal("2.00"))
    balance = _balance(rider)
    assert (balance.cash, balance.debt) == (Decimal(0), Decimal(0))  # the card money settled the fee's debt


def test_without_a_card_or_with_a_declined_one_the_fee_is_debt(rider, other_rider):
    fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("1.50"), currency="EUR")
    assert _balance(rider).debt == Decimal("1.50")
    add_card(other_rider, "tok_chargeDeclined")
    reservation_id = uuid.uuid4()
    fees.reservation_fee_charge(user=other_rider, reservation_id=reservation_id, amount=Decimal("1.50"),
                                currency="EUR")
    assert _balance(other_rider).debt == Decimal("1.50")
    assert Payment.objects.get(ride_id=reservation_id).status == Payment.Status.FAILED


def test_a_zero_fee_books_nothing_and_a_bad_amount_is_refused(rider):
    from billing import errors

    assert fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal(0),
                                       currency="EUR") is None
    with pytest.raises(errors.AmountInvalid):
        fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("0.001"),
                                    currency="EUR")
    assert not LedgerTransaction.objects.exists()
