"""Passes bought through the API and applied by the fare engine; promo and referral codes with their limits."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from billing import fares, selectors
from billing.models import LedgerTransaction, PassProduct, PromoCode, PromoRedemption, RiderPass
from billing.services import passes, rides
from tests.accounts.factories import UserFactory
from tests.billing.conftest import fund
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db
SNAPSHOT = fares.TariffSnapshot(tariff_id="t", version=1, currency="EUR", unlock_fee=Decimal("1.00"),
                                brackets=(fares.PriceBracket(0, Decimal("0.20")),), vat_rate=Decimal("0.19"))


def _product(code: str = "day", **fields: Any) -> PassProduct:
    defaults: dict[str, Any] = {"name": code, "kind": "period_pass", "currency": "EUR", "price": Decimal("5.00"),
                                "duration_days": 1, "unlock_waived": True, "vat_rate": Decimal("0.19")}
    return PassProduct.objects.create(code=code, **{**defaults, **fields})


def _promo(code: str, **fields: Any) -> PromoCode:
    defaults: dict[str, Any] = {"kind": "credit", "currency": "EUR", "amount": Decimal("3.00"),
                                "valid_from": timezone.now() - timedelta(days=1)}
    return PromoCode.objects.create(code=code, **{**defaults, **fields})


def test_catalogue_and_buying_a_pass_from_the_wallet(api, rider):
    _product()
    _product("pack-30", kind="minute_pack", minutes=30, unlock_waived=False, price=Decimal("6.00"))
    assert [p["code"] for p in api.anonymous().get("/api/v1/passes/catalogue").json()] == ["day", "pack-30"]
    r = api.as_(rider).post("/api/v1/passes", {"product": "day"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "insufficient_funds")
    assert not RiderPass.objects.exists() and not LedgerTransaction.objects.exists()
    fund(rider, "10.00")
    r = api.as_(rider).post("/api/v1/passes", {"product": "day"}, format="json")
    assert r.status_code == 201 and r.json()["product"]["code"] == "day"
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("5.00")
    elsewhere = api.as_(rider).post("/api/v1/passes", {"product": "day", "city": "atlantis"}, format="json")
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "city_not_found")
    mine = api.as_(rider).get("/api/v1/passes").json()
    assert [p["product"]["code"] for p in mine] == ["day"]
    unknown = api.as_(rider).post("/api/v1/passes", {"product": "nope"}, format="json")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "pass_product_not_found")


def test_benefits_apply_and_pack_minutes_are_consumed_once(rider):
    city = CityFactory.create()
    fund(rider, "20.00")
    passes.pass_buy(user=rider, product_code=_product().code)
    passes.pass_buy(user=rider, product_code=_product("pack", kind="minute_pack", minutes=10,
                                                       unlock_waived=False).code)
    benefits = passes.ride_benefits(rider=rider, city=city)
    assert (benefits.unlock_waived, benefits.minute_pack_minutes_available) == (True, 10)
    fare = fares.compute_fare(SNAPSHOT, fares.RideUsage(riding_seconds=15 * 60), benefits)
    assert fare.total == Decimal("1.00") and fare.minutes_from_pack_used == 10  # 5 paid minutes
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare, city=city)
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare, city=city)
    assert RiderPass.objects.get(product__code="pack").minutes_remaining == 0
    assert passes.ride_benefits(rider=rider, city=city).minute_pack_minutes_available == 0


def test_an_expired_pass_gives_nothing(rider):
    city = CityFactory.create()
    fund(rider, "10.00")
    bought = passes.pass_buy(user=rider, product_code=_product().code)
    later = bought.ends_at + timedelta(seconds=1)
    assert passes.ride_benefits(rider=rider, city=city, at=later) == fares.NO_BENEFITS


def test_a_credit_code_adds_bonus_once_per_rider(api, rider):
    _promo("WELCOME3")
    r = api.as_(rider).post("/api/v1/promo-codes/redeem", {"code": "welcome3"}, format="json")
    assert r.status_code == 201 and r.json()["credit"] == {"amount": "3.00", "currency": "EUR"}
    assert selectors.wallet_balance(user=rider, currency="EUR").bonus == Decimal("3.00")
    again = api.as_(rider).post("/api/v1/promo-codes/redeem", {"code": "WELCOME3"}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (422, "promo_code_already_used")
    assert selectors.wallet_balance(user=rider, currency="EUR").bonus == Decimal("3.00")


@pytest.mark.parametrize(("fields", "code", "status"), [
    ({}, "promo_code_unknown", 404),
    ({"valid_until": timezone.now() - timedelta(seconds=1)}, "promo_code_expired", 422),
    ({"valid_from": timezone.now() + timedelta(days=1)}, "promo_code_expired", 422),
    ({"active": False}, "promo_code_expired", 422),
    ({"max_redemptions": 0}, "promo_code_exhausted", 422),
])
def test_bad_codes_get_clear_errors_and_write_nothing(api, rider, fields, code, status):
    if code != "promo_code_unknown":
        _promo("BAD", **fields)
    r = api.as_(rider).post("/api/v1/promo-codes/redeem", {"code": "BAD"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    assert not PromoRedemption.objects.exists() and not LedgerTransaction.objects.exists()


def test_percent_off_applies_to_the_next_ride_only(rider):
    city = CityFactory.create()
    _promo("HALF", kind="percent_off", amount=None, percent=Decimal("50"))
    from billing.services import promos

    promos.promo_redeem(user=rider, code="HALF")
    fund(rider, "10.00")
    benefits = passes.ride_benefits(rider=rider, city=city)
    assert benefits.percent_off == Decimal("50")
    fare = fares.compute_fare(SNAPSHOT, fares.RideUsage(riding_seconds=10 * 60), benefits)
    assert fare.total == Decimal("1.50")
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fare, city=city)
    assert passes.ride_benefits(rider=rider, city=city).percent_off is None


def test_referral_credits_both_riders_and_not_oneself(api, rider, other_rider):
    _promo("REF-ANNA", kind="referral", referrer=other_rider, amount=Decimal("2.00"),
           referrer_amount=Decimal("4.00"), per_rider_limit=1)
    own = api.as_(other_rider).post("/api/v1/promo-codes/redeem", {"code": "REF-ANNA"}, format="json")
    assert (own.status_code, own.json()["error"]["code"]) == (422, "promo_code_own_referral")
    assert api.as_(rider).post("/api/v1/promo-codes/redeem", {"code": "ref-anna"}, format="json").status_code == 201
    assert selectors.wallet_balance(user=rider, currency="EUR").bonus == Decimal("2.00")
    assert selectors.wallet_balance(user=other_rider, currency="EUR").bonus == Decimal("4.00")


@pytest.mark.django_db(transaction=True)
def test_a_code_limited_to_3_is_redeemed_3_times_under_a_rush():
    _promo("RUSH", max_redemptions=3)
    users = [UserFactory.create() for _ in range(8)]
    barrier, errors_seen = threading.Barrier(8), []

    def redeem(user: Any) -> None:
        from billing.services import promos

        try:
            barrier.wait()
            promos.promo_redeem(user=user, code="RUSH")
        except Exception as exc:  # asserted below
            errors_seen.append(type(exc).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert PromoRedemption.objects.count() == 3 and PromoCode.objects.get().redemptions == 3
    assert sorted(errors_seen) == ["PromoCodeExhausted"] * 5
