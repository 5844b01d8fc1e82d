"""The ride money flow the rides app calls: hold, final charge (capture / extra / debt), release."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from billing import errors, selectors
from billing.fares import PriceBracket, RideUsage, TariffSnapshot, compute_fare
from billing.models import LedgerAccount, LedgerTransaction, Payment, RideBilling, TestPspCall, TestPspIntent
from billing.services import rides
from fleet.models import City
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, deliver, fund
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db
EUR = "EUR"


def fare_of(total: str, currency: str = EUR):
    snapshot = TariffSnapshot(
        tariff_id="t-test", version=1, currency=currency, unlock_fee=Decimal(total),
        brackets=(PriceBracket(0, Decimal(0)),), vat_rate=Decimal("0.19"),
    )
    return compute_fare(snapshot, RideUsage(riding_seconds=60))


def _city() -> City:
    return CityFactory.create()


def _hold(rider, amount="10.00"):
    return rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal(amount), currency=EUR)


def _balance(rider):
    return selectors.wallet_balance(user=rider, currency=EUR)


def test_a_funded_wallet_secures_the_ride_without_a_card_hold(rider):
    fund(rider, "20.00")
    billing = _hold(rider)
    assert billing.method == "wallet" and billing.hold is None
    city = _city()
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("3.57"), city=city)
    billing.refresh_from_db()
    assert (billing.status, billing.paid_wallet, billing.debt) == ("charged", Decimal("3.57"), Decimal(0))
    assert _balance(rider).cash == Decimal("16.43")
    txn = LedgerTransaction.objects.get(kind="ride_charge")
    by_code = {e.account.code: e.amount for e in txn.entries.select_related("account")}
    assert by_code[f"revenue:{city.slug}:EUR"] == Decimal("-3.00")
    assert by_code[f"vat_payable:{city.slug}:EUR"] == Decimal("-0.57")


def test_bonus_is_spent_before_cash(rider):
    from billing.models import AccountKind
    from billing.services import wallet

    fund(rider, "10.00")
    wallet.bonus_grant(user=rider, amount=Decimal("2.00"), currency=EUR, source=AccountKind.PROMOTIONS,
                       idempotency_key="b1", description="welcome")
    billing = _hold(rider)
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("3.00"))
    assert (_balance(rider).bonus, _balance(rider).cash) == (Decimal(0), Decimal("9.00"))


def test_a_card_hold_is_partially_captured_for_a_smaller_fare(rider, card):
    billing = _hold(rider, "10.00")
    assert billing.method == "card" and billing.hold.status == "authorised"
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("4.20"))
    intent = TestPspIntent.objects.get()
    assert (intent.status, intent.amount_received) == ("succeeded", Decimal("4.20"))
    billing.refresh_from_db()
    assert (billing.paid_card, billing.debt, _balance(rider).cash) == (Decimal("4.20"), Decimal(0), Decimal(0))
    call_command("billing_reconcile")


def test_a_fare_above_the_hold_captures_the_hold_and_charges_the_rest(rider, card):
    billing = _hold(rider, "5.00")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("7.50"))
    extra = Payment.objects.get(purpose="ride_extra")
    assert (extra.status, extra.amount_captured) == ("captured", Decimal("2.50"))
    billing.refresh_from_db()
    assert (billing.paid_card, billing.debt) == (Decimal("7.50"), Decimal(0))


def test_a_failed_capture_creates_debt_that_blocks_the_next_ride(rider):
    add_card(rider, "tok_captureFails")
    billing = _hold(rider, "5.00")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("4.00"))
    billing.refresh_from_db()
    assert (billing.status, billing.debt) == ("charged", Decimal("4.00"))
    assert billing.hold.status == "voided"  # the refused capture does not leave the hold on the card
    assert selectors.rider_can_start_ride(rider, _city()) == (False, "outstanding_debt")
    with pytest.raises(errors.OutstandingDebt):
        _hold(rider)


def test_the_final_charge_is_idempotent(rider, card):
    billing = _hold(rider, "5.00")
    first = rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("7.00"))
    again = rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("7.00"))
    assert first.pk == again.pk and again.status == "charged"
    assert TestPspIntent.objects.count() == 2  # hold + extra, not more
    assert LedgerTransaction.objects.filter(kind="ride_charge").count() == 1


def test_a_capture_that_times_out_is_retried_with_the_same_key_and_charged_once(api, rider):
    add_card(rider, "tok_timeout")
    billing = _hold(rider, "6.00")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("5.00"))
    intent = TestPspIntent.objects.get()
    assert intent.amount_received == Decimal("5.00")
    assert TestPspCall.objects.filter(operation="capture").count() == 1
    events = deliver(api) + deliver(api, None)  # nothing new the second time
    assert all(r.status_code == 200 for r in events)
    assert LedgerTransaction.objects.filter(kind="card_payment").count() == 1
    assert (_balance(rider).cash, _balance(rider).debt) == (Decimal(0), Decimal(0))
    call_command("billing_reconcile")


def test_release_voids_the_hold_and_charges_nothing(rider, card):
    billing = _hold(rider, "5.00")
    rides.ride_hold_release(ride_id=billing.ride_id)
    rides.ride_hold_release(ride_id=billing.ride_id)
    assert TestPspIntent.objects.get().status == "canceled"
    assert not LedgerTransaction.objects.filter(kind="ride_charge").exists()
    with pytest.raises(errors.RideBillingState):
        rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("1.00"))


def test_hold_refusals_have_clear_codes_and_write_nothing(rider):
    with pytest.raises(errors.NoPaymentMethod):
        _hold(rider)
    add_card(rider, "tok_chargeDeclined")
    with pytest.raises(errors.PaymentDeclined):
        _hold(rider)
    with pytest.raises(errors.AmountInvalid):
        _hold(rider, "-1.00")
    assert not RideBilling.objects.exists()
    assert not LedgerTransaction.objects.exists()


def test_3ds_cannot_secure_a_ride(rider):
    add_card(rider, "tok_threeDSecure")
    with pytest.raises(errors.PaymentActionRequired):
        _hold(rider)
    assert TestPspIntent.objects.get().status == "canceled"


def test_the_wrong_currency_is_refused(rider):
    fund(rider, "10.00")
    billing = _hold(rider)
    with pytest.raises(errors.CurrencyMismatch):
        rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("1.00", "USD"))
    billing.refresh_from_db()
    assert billing.status == "held"


def test_the_start_gate(rider):
    city = _city()
    assert selectors.rider_can_start_ride(rider, city) == (False, "payment_method_required")
    fund(rider, "5.00")
    assert selectors.rider_can_start_ride(rider, city) == (True, None)


@pytest.mark.django_db(transaction=True)
def test_a_double_tap_on_end_charges_once():
    rider = UserFactory.create()
    add_card(rider)
    billing = _hold(rider, "5.00")
    barrier, failures = threading.Barrier(6), []

    def end():
        try:
            barrier.wait()
            rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("8.00"))
        except Exception as exc:  # asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=end) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(i.amount_received for i in TestPspIntent.objects.all()) == [Decimal("3.00"), Decimal("5.00")]
    assert LedgerTransaction.objects.filter(kind="ride_charge").count() == 1
    assert (_balance(rider).cash, _balance(rider).debt) == (Decimal(0), Decimal(0))
    call_command("billing_reconcile")


def test_a_free_ride_voids_the_hold_and_posts_nothing(rider, card):
    billing = _hold(rider, "5.00")
    snapshot = TariffSnapshot(tariff_id="free", version=1, currency=EUR, unlock_fee=Decimal(0),
                              brackets=(PriceBracket(0, Decimal(0)),))
    billing = rides.ride_charge_final(ride_id=billing.ride_id, fare=compute_fare(snapshot, RideUsage()))
    assert billing.status == "charged" and billing.fare_total == 0
    assert TestPspIntent.objects.get().status == "canceled"
    assert not LedgerTransaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_many_riders_charged_at_once_share_the_hot_city_accounts_without_deadlocks():
    city = _city()
    riders = [UserFactory.create() for _ in range(10)]
    for i, rider in enumerate(riders):
        if i % 2:
            add_card(rider)
        else:
            fund(rider, "20.00")
    barrier, failures = threading.Barrier(len(riders)), []

    def ride(rider):
        try:
            barrier.wait()
            for _ in range(3):
                billing = _hold(rider, "5.00")
                rides.ride_charge_final(ride_id=billing.ride_id, fare=fare_of("2.38"), city=city)
        except Exception as exc:  # asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ride, args=(r,)) for r in riders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert LedgerTransaction.objects.filter(kind="ride_charge").count() == 30
    assert LedgerAccount.objects.get(code=f"revenue:{city.slug}:EUR").balance == Decimal("-60.00")
    call_command("billing_reconcile")


def test_a_new_rides_hold_reuses_the_gates_read_and_a_second_hold_for_it_fails_on_the_ride_key(
        rider, django_assert_num_queries):
    """The start's own first hold: no look-up, no second read of wallet and card, one INSERT."""
    from django.db import IntegrityError

    fund(rider, "50.00")
    money = selectors.rider_money(rider, EUR)
    assert money.refusal is None and money.balance.available == Decimal("50.00")
    ride_id = uuid.uuid4()
    with django_assert_num_queries(3):  # the INSERT in its savepoint (the test runs inside a transaction)
        billing = rides.ride_hold_place(rider=rider, ride_id=ride_id, amount=Decimal("10.00"), currency=EUR,
                                        new_ride=True, money=money)
    assert (billing.method, billing.status) == (RideBilling.Method.WALLET, RideBilling.Status.HELD)
    with pytest.raises(IntegrityError):  # a concurrent second "first" hold: the caller answers ride_start_in_progress
        rides.ride_hold_place(rider=rider, ride_id=ride_id, amount=Decimal("10.00"), currency=EUR,
                              new_ride=True, money=money)
    # a retry (not new) finds the hold and places none
    again = rides.ride_hold_place(rider=rider, ride_id=ride_id, amount=Decimal("10.00"), currency=EUR)
    assert again.pk == billing.pk and RideBilling.objects.filter(ride_id=ride_id).count() == 1


def test_rider_money_refusals_match_the_start_gate(rider):
    city = _city()
    assert selectors.rider_money(rider, city.currency).refusal == "payment_method_required"
    assert selectors.rider_can_start_ride(rider, city) == (False, "payment_method_required")
    add_card(rider)
    assert selectors.rider_money(rider, city.currency).refusal is None
