"""How a receipt says a ride was paid: wallet + card + outstanding is the total, and each part is what really
moved (card money is booked into the rider's cash before the ride spends it: it must be counted once, as card).

A property over payment mixes on the real database (a fresh rider per example), then examples through the
HTTP API (JSON and HTML receipt) and the admin's ride billing list.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from billing import fares, selectors
from billing.models import AccountKind, LedgerEntry, PassProduct, Payment, PromoCode, RideBilling
from billing.selectors import wallet as wallet_selectors
from billing.services import ledger, passes, promos, receipts, refunds, rides, wallet
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, deliver
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db
EUR = "EUR"
SNAPSHOT = fares.TariffSnapshot(tariff_id="t", version=1, currency=EUR, unlock_fee=Decimal("1.00"),
                                brackets=(fares.PriceBracket(0, Decimal("0.20")),), vat_rate=Decimal("0.19"))
CARDS = [None, "tok_visa", "tok_timeout", "tok_captureFails"]
prop = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def cents(top: int) -> st.SearchStrategy[Decimal]:
    return st.integers(0, top).map(lambda c: Decimal(c) / 100)


@dataclass(frozen=True)
class Mix:
    cash: Decimal  # the rider's own cash before the ride
    bonus: Decimal
    card: str | None  # the saved card's test token (None: no card)
    minutes: int  # ride minutes
    pack_minutes: int  # a minute pack bought before the ride (0: none)
    percent_off: int  # a percent-off promo redeemed before the ride (0: none)
    hold: Decimal
    refund_share: int  # percent of what was collected refunded afterwards
    late: bool = False  # the capture's answer is lost (one attempt): the card money arrives by webhook


mixes = st.builds(Mix, cash=cents(1500), bonus=cents(500), card=st.sampled_from(CARDS), minutes=st.integers(0, 60),
                  pack_minutes=st.sampled_from([0, 0, 10, 30]), percent_off=st.sampled_from([0, 0, 20, 50]),
                  hold=st.sampled_from([Decimal("2.00"), Decimal("5.00"), Decimal("10.00")]),
                  refund_share=st.sampled_from([0, 0, 30, 100]), late=st.booleans())


def cash_in(user: User, amount: Decimal) -> None:
    """Cash the rider already had (as a settled top-up would have booked it), without a card of their own."""
    if amount > 0:
        clearing = ledger.system_account(kind=AccountKind.PSP_CLEARING, currency=EUR)
        cash = ledger.rider_account(user=user, kind=AccountKind.RIDER_CASH, currency=EUR)
        ledger.ledger_post(kind="card_payment", idempotency_key=f"test-cash:{uuid.uuid4()}", user=user,
                           lines=[ledger.debit(clearing, amount), ledger.credit(cash, amount)])


def bonus_in(user: User, amount: Decimal) -> None:
    if amount > 0:
        wallet.bonus_grant(user=user, amount=amount, currency=EUR, source=AccountKind.PROMOTIONS,
                           idempotency_key=f"test-bonus:{uuid.uuid4()}", description="promo")


def set_up(mix: Mix, city: Any) -> User:
    rider = UserFactory.create()
    if mix.pack_minutes:  # bought with bonus granted for it, before the balances below
        price = Decimal("3.00")
        product = PassProduct.objects.create(code=f"pack-{uuid.uuid4().hex[:8]}", name="pack", kind="minute_pack",
                                             currency=EUR, price=price, minutes=mix.pack_minutes, duration_days=30,
                                             vat_rate=Decimal("0.19"))
        bonus_in(rider, price)
        passes.pass_buy(user=rider, product_code=product.code, city=city)
    if mix.percent_off:
        code = f"OFF{uuid.uuid4().hex[:8]}".upper()
        PromoCode.objects.create(code=code, kind="percent_off", currency=EUR, amount=None,
                                 percent=Decimal(mix.percent_off),
                                 valid_from=timezone.now() - timedelta(days=1))
        promos.promo_redeem(user=rider, code=code)
    cash_in(rider, mix.cash)
    bonus_in(rider, mix.bonus)
    if mix.card is not None:
        add_card(rider, mix.card)
    return rider


def own_money(rider: User) -> Decimal:
    balance = selectors.wallet_balance(user=rider, currency=EUR)
    return balance.cash + balance.bonus


def ride(rider: User, city: Any, mix: Mix) -> tuple[RideBilling, fares.Fare] | None:
    """Hold, fare with the rider's benefits, final charge; None when the rider may not ride (no card, too little)."""
    try:
        billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=mix.hold, currency=EUR)
    except Exception:  # noqa: BLE001 - refusals (no card, payment declined) are part of the mix
        return None
    benefits = passes.ride_benefits(rider=rider, city=city, at=billing.created_at)
    fare = fares.compute_fare(SNAPSHOT, fares.RideUsage(riding_seconds=60 * mix.minutes), benefits)
    late = {"BILLING_CAPTURE_RETRIES": 1} if mix.late else {}  # a tok_timeout capture then stays unanswered
    with override_settings(**late):
        return rides.ride_charge_final(ride_id=billing.ride_id, fare=fare, city=city), fare


def card_captured(ride_id: uuid.UUID) -> Decimal:
    payments = Payment.objects.filter(ride_id=ride_id, status="captured", purpose__in=["ride_hold", "ride_extra"])
    return sum((p.amount_captured for p in payments), Decimal(0))


def charge_entries(ride_id: uuid.UUID) -> dict[str, Decimal]:
    entries = LedgerEntry.objects.filter(transaction__idempotency_key=f"ride_charge:{ride_id}",
                                         account__kind__in=wallet_selectors.RIDER_KINDS)
    return {kind: amount for kind, amount in entries.values_list("account__kind", "amount")}


def amounts(receipt: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    paid = receipt["paid"]
    return Decimal(paid["wallet"]["amount"]), Decimal(paid["card"]["amount"]), Decimal(paid["outstanding"]["amount"])


@prop
@given(mix=mixes)
def test_the_paid_parts_add_up_to_the_total_and_are_what_moved(api, django_capture_on_commit_callbacks, mix):
    city = CityFactory.create()
    rider = set_up(mix, city)
    before = own_money(rider)
    charged = ride(rider, city, mix)
    if charged is None:
        assert mix.card is None and mix.cash + mix.bonus < Decimal(1)
        return
    billing, fare = charged
    with django_capture_on_commit_callbacks(execute=True):
        deliver(api)  # late webhooks (a capture that timed out) settle the debt the charge left
    billing.refresh_from_db()
    wallet_part, card_part, outstanding = amounts(receipts.receipt_for_ride(billing.ride_id))

    assert wallet_part + card_part + outstanding == fare.total
    assert (billing.paid_wallet, billing.paid_card, billing.debt) == (wallet_part, card_part, outstanding)
    # What moved: the rider's own money spent (card money passes through cash), the card captured for this
    # ride, the debt left; and the ride's ledger transaction debits exactly wallet + debt taken at the charge.
    assert wallet_part == before - own_money(rider)
    assert card_part == card_captured(billing.ride_id)
    assert outstanding == selectors.wallet_balance(user=rider, currency=EUR).debt
    debits = charge_entries(billing.ride_id)
    assert sum(debits.values(), Decimal(0)) == fare.total
    assert debits.get(AccountKind.RIDER_BONUS, Decimal(0)) <= wallet_part

    collected = fare.total - outstanding
    refund = (collected * mix.refund_share / 100).quantize(Decimal("0.01"))
    if refund > 0:
        refunds.refund_ride(ride_id=billing.ride_id, amount=refund, reason="partial", actor=None)
        receipt = receipts.receipt_for_ride(billing.ride_id)
        assert amounts(receipt) == (wallet_part, card_part, outstanding)  # refunds are listed, not netted
        assert [r["amount"]["amount"] for r in receipt["refunds"]] == [str(refund)]


# Examples, one per mix, through the HTTP API.

def _charged(rider: User, total: str, hold: str = "10.00") -> RideBilling:
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal(hold), currency=EUR)
    fare = fares.compute_fare(fares.TariffSnapshot(tariff_id="t", version=1, currency=EUR, unlock_fee=Decimal(total),
                                                   brackets=(fares.PriceBracket(0, Decimal(0)),),
                                                   vat_rate=Decimal("0.19")), fares.RideUsage(riding_seconds=60))
    return rides.ride_charge_final(ride_id=billing.ride_id, fare=fare)


def _paid(api: Any, rider: User, billing: RideBilling) -> dict[str, str]:
    """The JSON receipt's paid parts; the printable page's "Paid with" table must say the same."""
    r = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt")
    assert r.status_code == 200, r.json()
    paid = {part: value["amount"] for part, value in r.json()["paid"].items()}
    html = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt.html").content.decode()
    table = html.split("<h2>Paid with</h2>", 1)[1].split("</table>", 1)[0]
    rows = {cells[0].split("<td>")[-1]: cells[1].split(">")[-1]
            for cells in (row.split("</td>")[:2] for row in table.split("<tr>")[1:])}
    shown = {"wallet": rows["Wallet"], "card": rows["Card"], "outstanding": rows.get("Outstanding", "0.00")}
    assert shown == paid, (shown, paid)
    return paid


def test_a_card_only_ride_is_paid_by_card_once(api, rider):
    add_card(rider)
    billing = _charged(rider, "1.20")
    assert _paid(api, rider, billing) == {"wallet": "0.00", "card": "1.20", "outstanding": "0.00"}
    billing.refresh_from_db()
    assert (billing.paid_wallet, billing.paid_card, billing.debt) == (Decimal(0), Decimal("1.20"), Decimal(0))
    html = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt.html").content.decode()
    assert "<td>Wallet</td><td class=\"amount\">0.00</td>" in html
    assert "<td>Card</td><td class=\"amount\">1.20</td>" in html


def test_wallet_only_bonus_first(api, rider):
    cash_in(rider, Decimal("2.00"))
    bonus_in(rider, Decimal("0.50"))
    billing = _charged(rider, "1.20", hold="1.00")
    assert _paid(api, rider, billing) == {"wallet": "1.20", "card": "0.00", "outstanding": "0.00"}


def test_wallet_then_card(api, rider):
    cash_in(rider, Decimal("0.50"))
    add_card(rider)
    billing = _charged(rider, "3.00")
    assert _paid(api, rider, billing) == {"wallet": "0.50", "card": "2.50", "outstanding": "0.00"}


def test_wallet_then_hold_then_extra_charge(api, rider):
    bonus_in(rider, Decimal("1.00"))
    add_card(rider)
    billing = _charged(rider, "8.00", hold="5.00")
    assert _paid(api, rider, billing) == {"wallet": "1.00", "card": "7.00", "outstanding": "0.00"}


def test_a_refused_capture_leaves_debt_not_card_money(api, rider):
    cash_in(rider, Decimal("1.00"))
    add_card(rider, "tok_captureFails")
    billing = _charged(rider, "4.00")
    assert _paid(api, rider, billing) == {"wallet": "1.00", "card": "0.00", "outstanding": "3.00"}
    html = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt.html").content.decode()
    assert "<td>Outstanding</td><td class=\"amount\">3.00</td>" in html


def test_card_money_that_arrives_after_the_charge_pays_the_debt_and_shows_as_card(
        api, rider, settings, django_capture_on_commit_callbacks):
    add_card(rider, "tok_timeout")  # the money moves, the answer times out (a retry would get it)
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("6.00"), currency=EUR)
    settings.BILLING_CAPTURE_RETRIES = 1  # the capture gets no answer: the charge leaves debt
    rides.ride_charge_final(ride_id=billing.ride_id, fare=_fare("5.00"))
    assert _paid(api, rider, billing) == {"wallet": "0.00", "card": "0.00", "outstanding": "5.00"}
    with django_capture_on_commit_callbacks(execute=True):
        assert all(r.status_code == 200 for r in deliver(api))  # the provider's webhook brings the capture
    billing.refresh_from_db()
    assert _paid(api, rider, billing) == {"wallet": "0.00", "card": "5.00", "outstanding": "0.00"}
    assert (billing.paid_wallet, billing.paid_card, billing.debt) == (Decimal(0), Decimal("5.00"), Decimal(0))
    assert selectors.wallet_balance(user=rider, currency=EUR).debt == 0
    call_command("billing_reconcile")


def _fare(total: str) -> fares.Fare:
    return fares.compute_fare(fares.TariffSnapshot(tariff_id="t", version=1, currency=EUR, unlock_fee=Decimal(total),
                                                   brackets=(fares.PriceBracket(0, Decimal(0)),),
                                                   vat_rate=Decimal("0.19")), fares.RideUsage(riding_seconds=60))


def test_pass_minutes_and_percent_off_lower_the_total_that_is_split(api, rider):
    city = CityFactory.create()
    mix = Mix(cash=Decimal("1.00"), bonus=Decimal(0), card="tok_visa", minutes=20, pack_minutes=10, percent_off=50,
              hold=Decimal("10.00"), refund_share=0)
    rider = set_up(mix, city)
    charged = ride(rider, city, mix)
    assert charged is not None
    billing, fare = charged
    assert fare.total == Decimal("1.50")  # (1.00 unlock + 10 paid minutes x 0.20) x 50 %
    assert _paid(api, rider, billing) == {"wallet": "1.00", "card": "0.50", "outstanding": "0.00"}


def test_a_partial_refund_is_listed_and_the_split_stays(api, rider):
    add_card(rider)
    billing = _charged(rider, "3.00")
    refunds.refund_ride(ride_id=billing.ride_id, amount=Decimal("1.00"), reason="bumpy", actor=None)
    r = api.as_(rider).get(f"/api/v1/billing/rides/{billing.ride_id}/receipt").json()
    assert {k: v["amount"] for k, v in r["paid"].items()} == {"wallet": "0.00", "card": "3.00", "outstanding": "0.00"}
    assert [x["amount"]["amount"] for x in r["refunds"]] == ["1.00"]


def test_the_admin_ride_billing_list_shows_the_card_once(client, rider):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    add_card(rider)
    billing = _charged(rider, "1.20")
    client.force_login(staff)
    r = client.get("/admin/billing/ridebilling/")
    assert r.status_code == 200
    row = next(line for line in r.content.decode().split("<tr") if str(billing.ride_id) in line)
    cells = [c.split(">", 1)[1].split("<", 1)[0] for c in row.split("<td")[1:]]
    assert cells[-4:] == ["1.2000", "0.0000", "1.2000", "0.0000"], cells  # fare, wallet, card, debt
