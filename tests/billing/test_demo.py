"""billing/demo.py: runs after accounts and fleet, is idempotent, and leaves the books balanced."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts import demo as accounts_demo
from accounts.models import User
from billing import demo, selectors
from billing.models import LedgerTransaction, Tariff
from tests.fleet.factories import CityFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_funds_the_demo_rider():
    city = CityFactory.create(slug="berlin")
    for code in demo.TARIFFS:
        VehicleTypeFactory.create(code=code)
    rider = User.objects.create_user(accounts_demo.RIDER_EMAIL, "x-password-123")
    out = io.StringIO()
    demo.load(stdout=out)
    demo.load(stdout=out)
    assert Tariff.objects.filter(city=city, is_current=True).count() == 3
    assert Tariff.objects.count() == 3
    assert selectors.wallet_balance(user=rider, currency="EUR").cash == Decimal("20.00")
    assert LedgerTransaction.objects.count() == 1
    assert "tok_visa" in out.getvalue() and "20.00 EUR cash" in out.getvalue()
    call_command("billing_reconcile")


def test_demo_without_a_city_does_nothing():
    out = io.StringIO()
    demo.load(stdout=out)
    assert "skipped" in out.getvalue() and not Tariff.objects.exists()
