"""Tariffs: versioned publishing, the engine's validation, quotes, GBFS plans, plan ids for nearby vehicles."""

from __future__ import annotations

import threading
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from billing import errors, fares
from billing.models import Tariff
from billing.selectors import tariffs as tariff_selectors
from billing.services import tariffs
from fleet.models import City, VehicleType
from tests.fleet.factories import CityFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db
BRACKETS = [{"start_minute": 0, "per_minute": "0.25"}, {"start_minute": 10, "per_minute": "0.15"}]


def _publish(city: City, vt: VehicleType, **fields: Any) -> Tariff:
    fields.setdefault("brackets", BRACKETS)
    return tariffs.tariff_publish(city=city, vehicle_type=vt, unlock_fee=Decimal("1.00"), **fields)


def test_an_edit_publishes_a_new_version_and_the_old_one_is_unchanged():
    city, vt = CityFactory.create(slug="berlin-t"), VehicleTypeFactory.create()
    v1 = _publish(city, vt, vat_rate=Decimal("0.19"))
    v2 = tariffs.tariff_publish(city=city, vehicle_type=vt, unlock_fee=Decimal("1.50"))
    v1.refresh_from_db()
    assert (v1.version, v1.is_current, v1.unlock_fee) == (1, False, Decimal("1.00"))
    assert (v2.version, v2.is_current, v2.unlock_fee, v2.vat_rate) == (2, True, Decimal("1.50"), Decimal("0.19"))
    snapshot = tariffs.tariff_snapshot(v2)
    assert fares.TariffSnapshot.from_json(snapshot.to_json()) == snapshot
    assert (snapshot.tariff_id, snapshot.version) == (f"berlin-t-{vt.code}", 2)


@pytest.mark.parametrize("fields", [{"brackets": [{"start_minute": 5, "per_minute": "0.25"}]},
                                    {"brackets": BRACKETS, "vat_rate": Decimal("19")},
                                    {"brackets": BRACKETS, "unlock_fee": Decimal("-1")},
                                    {"brackets": [{"per_minute": "0.25"}]},
                                    {"surge": True}])
def test_a_tariff_the_engine_refuses_is_not_published(fields):
    city, vt = CityFactory.create(), VehicleTypeFactory.create()
    with pytest.raises(errors.TariffInvalid):
        tariffs.tariff_publish(city=city, vehicle_type=vt, **fields)
    assert not Tariff.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_publications_get_consecutive_versions():
    city, vt = CityFactory.create(), VehicleTypeFactory.create()
    barrier, failures = threading.Barrier(5), []

    def publish(i: int) -> None:
        try:
            barrier.wait()
            _publish(city, vt, free_minutes=i)
        except Exception as exc:  # asserted below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(Tariff.objects.values_list("version", flat=True)) == [1, 2, 3, 4, 5]
    assert Tariff.objects.filter(is_current=True).count() == 1


def test_list_and_quote_are_public(api):
    city, vt = CityFactory.create(slug="quote-city"), VehicleTypeFactory.create(code="kick-1")
    _publish(city, vt, pause_per_minute=Decimal("0.05"))
    listed = api.anonymous().get("/api/v1/tariffs?city=quote-city").json()
    assert [(t["plan_id"], t["version"]) for t in listed] == [("quote-city-kick-1-v1", 1)]
    assert listed[0]["quote"].startswith("unlock 1.00 + 0.25/min")
    r = api.anonymous().get("/api/v1/tariffs/quote?city=quote-city&vehicle_type=kick-1")
    assert r.status_code == 200
    assert r.json()["unlock_fee"] == {"amount": "1.00", "currency": "EUR"}
    assert r.json()["pieces"][0]["key"]
    missing = api.anonymous().get("/api/v1/tariffs/quote?city=quote-city&vehicle_type=nope")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "tariff_not_found")
    no_city = api.anonymous().get("/api/v1/tariffs")
    assert (no_city.status_code, no_city.json()["error"]["code"]) == (400, "validation_error")


def test_gbfs_pricing_plans_feed(api):
    city, vt = CityFactory.create(slug="gbfs-city"), VehicleTypeFactory.create(code="kick-2")
    _publish(city, vt, ride_cap=Decimal("15.00"))
    feed = api.anonymous().get("/api/v1/tariffs/gbfs?city=gbfs-city").json()
    plan = feed["data"]["plans"][0]
    assert (plan["plan_id"], plan["currency"], plan["price"]) == ("gbfs-city-kick-2-v1", "EUR", 1)
    assert plan["per_min_pricing"][0]["rate"] == 0.25


def test_pricing_plan_ids_for_the_fleet_nearby_api():
    city, vt, other = CityFactory.create(slug="pp-city"), VehicleTypeFactory.create(code="kick-3"), VehicleTypeFactory.create()
    _publish(city, vt)
    vehicle = SimpleNamespace(city_id=city.pk, vehicle_type_id=vt.pk)
    assert tariff_selectors.pricing_plan_id_for(vehicle) == "pp-city-kick-3-v1"
    assert tariff_selectors.pricing_plans_for(city.pk, [vt.pk, other.pk]) == {vt.pk: "pp-city-kick-3-v1", other.pk: None}
    from fleet.selectors import nearby

    assert nearby._pricing_plan_resolver is tariff_selectors.pricing_plans_for  # registered by BillingConfig


def test_the_admin_edit_publishes_a_new_version(client):
    from tests.accounts.factories import UserFactory

    admin_user = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    city, vt = CityFactory.create(), VehicleTypeFactory.create()
    v1 = _publish(city, vt)
    form = {f: "" for f in tariffs.EDITABLE}
    form.update({"name": "Scooter", "unlock_fee": "2.00", "brackets": '[{"start_minute": 0, "per_minute": "0.30"}]',
                 "pause_per_minute": "0", "reservation_mode": "free", "reservation_flat_fee": "0",
                 "reservation_per_minute": "0", "reservation_free_minutes": "0", "free_minutes": "0",
                 "minimum_fare": "0", "vat_rate": "0.19", "zone_adjustments": "[]"})
    r = client.post(f"/admin/billing/tariff/{v1.pk}/change/", form)
    assert r.status_code == 302, r.content[:2000]
    assert list(Tariff.objects.order_by("version").values_list("version", "is_current", "unlock_fee")) == [
        (1, False, Decimal("1.0000")), (2, True, Decimal("2.0000"))]
    bad = {**form, "brackets": '[{"start_minute": 3, "per_minute": "0.30"}]'}
    r = client.post(f"/admin/billing/tariff/{Tariff.objects.get(is_current=True).pk}/change/", bad)
    assert r.status_code == 200 and b"fare engine refuses" in r.content
    assert Tariff.objects.count() == 2


@pytest.mark.parametrize("page", ["tariff", "ledgeraccount", "ledgertransaction", "payment", "ridebilling",
                                  "paymentmethod", "webhookevent", "passproduct", "promocode", "riderpass", "refund"])
def test_admin_pages_render(client, page):
    from tests.accounts.factories import UserFactory

    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    assert client.get(f"/admin/billing/{page}/").status_code == 200
