"""A phone-only account's placeholder address (``phone-<hex>@accounts.freewheel.invalid``) is internal: receipts,
other riders' wallet history and the admin lists show the real email, else the masked phone, never the
placeholder."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts import phone
from accounts.models import User, placeholder_email
from billing import fares
from billing.models import PromoCode
from billing.services import methods, rides
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db
PHONE = "+4915112340001"
PLACEHOLDER = "accounts.freewheel.invalid"


@pytest.fixture
def phone_rider(db: Any) -> User:
    return User.objects.create_user(email=placeholder_email("phone"), password=None, phone=PHONE,
                                    phone_verified_at=timezone.now())


@pytest.mark.parametrize(("number", "shown"), [
    ("+4915112340001", "+49 151 •••• 0001"),
    ("+12125550123", "+1 •••• 0123"),  # ten national digits: the first three stay hidden too
    ("+4930123456", "+49 •••• 3456"),
    ("", ""),
])
def test_the_masked_phone_keeps_the_country_code_and_the_last_digits(number, shown):
    assert phone.phone_masked(number) == shown


def test_how_an_account_is_named(phone_rider):
    assert (phone_rider.contact_label, str(phone_rider)) == ("+49 151 •••• 0001", "+49 151 •••• 0001")
    with_email = UserFactory.create()
    assert str(with_email) == with_email.contact_label == with_email.email
    gone = User.objects.create_user(email=placeholder_email("deleted"), password=None, status="deleted")
    assert gone.contact_label == "" and str(gone) == f"deleted account {gone.pk}"


def _charged_ride(rider: User) -> uuid.UUID:
    methods.payment_method_add(user=rider, token="tok_visa")
    billing = rides.ride_hold_place(rider=rider, ride_id=uuid.uuid4(), amount=Decimal("5.00"), currency="EUR")
    snapshot = fares.TariffSnapshot(tariff_id="t", version=1, currency="EUR", unlock_fee=Decimal("1.20"),
                                    brackets=(fares.PriceBracket(0, Decimal(0)),), vat_rate=Decimal("0.19"))
    rides.ride_charge_final(ride_id=billing.ride_id, fare=fares.compute_fare(snapshot, fares.RideUsage(riding_seconds=60)))
    return billing.ride_id


def test_the_receipt_of_a_phone_only_rider_shows_the_masked_phone(api, phone_rider):
    ride_id = _charged_ride(phone_rider)
    body = api.as_(phone_rider).get(f"/api/v1/billing/rides/{ride_id}/receipt").json()
    assert body["rider"] == "+49 151 •••• 0001"
    html = api.as_(phone_rider).get(f"/api/v1/billing/rides/{ride_id}/receipt.html").content.decode()
    assert PLACEHOLDER not in html and "+49 151 •••• 0001" in html and PHONE not in html


def test_the_receipt_of_an_account_without_email_or_phone_names_no_one(api, phone_rider):
    ride_id = _charged_ride(phone_rider)
    User.objects.filter(pk=phone_rider.pk).update(phone="")
    body = api.as_(phone_rider).get(f"/api/v1/billing/rides/{ride_id}/receipt").json()
    assert body["rider"] == ""
    html = api.as_(phone_rider).get(f"/api/v1/billing/rides/{ride_id}/receipt.html").content.decode()
    assert PLACEHOLDER not in html


def test_a_referrer_never_sees_the_new_riders_placeholder(api, rider, phone_rider):
    PromoCode.objects.create(code="REF-ANNA", kind="referral", currency="EUR", referrer=rider, amount=Decimal("2.00"),
                             referrer_amount=Decimal("4.00"), valid_from=timezone.now() - timedelta(days=1))
    assert api.as_(phone_rider).post("/api/v1/promo-codes/redeem", {"code": "REF-ANNA"}, format="json").status_code == 201
    history = api.as_(rider).get("/api/v1/wallet/transactions").json()["results"]
    assert [entry["description"] for entry in history] == ["Referral of +49 151 •••• 0001"]


def test_the_admin_lists_show_no_placeholder(client, phone_rider):
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    client.force_login(staff)
    _charged_ride(phone_rider)
    for page in ("/admin/accounts/user/", "/admin/billing/ridebilling/", "/admin/billing/payment/",
                 "/admin/billing/ledgeraccount/", "/admin/billing/paymentmethod/"):
        r = client.get(page)
        assert r.status_code == 200 and PLACEHOLDER not in r.content.decode(), page
    assert "+49 151 •••• 0001" in client.get("/admin/billing/ridebilling/").content.decode()
    assert client.get("/admin/accounts/user/", {"q": "+4915112340001"}).content.decode().count("(no email)") == 1
