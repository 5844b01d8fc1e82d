"""Support's rider page (console.support): what it shows, search by phone in any usual form, email, name, ride id
and vehicle code; each action by role, confirmed on a page of its own, done once on a double submit, recorded as a
support note; and the staff API's read of a rider's ride."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Notification, User
from billing.models import Refund
from billing.selectors import wallet_balance
from console.models import SupportNote
from fleet.models import Vehicle
from rides.models import ProblemReport, Ride, RideState
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member
from tests.rides.test_ride_page import a_ride, charge

pytestmark = pytest.mark.django_db


@pytest.fixture
def vehicle() -> Any:
    return VehicleFactory.create(city=CityFactory.create(slug="berlin", name="Berlin", currency="EUR"),
                                 code="SUP001")


def charged(vehicle: Any) -> Ride:
    ride = a_ride(vehicle)
    charge(ride)
    ride.refresh_from_db()
    return ride


def as_role(role: str) -> tuple[Client, User]:
    client, user = Client(), member(role)
    client.force_login(user)
    return client, user


def rider_url(rider: Any) -> str:
    return f"/admin/support/riders/{rider.pk}/"


def action_url(rider: Any, action: str, ride: Ride | None = None) -> str:
    return rider_url(rider) + (f"rides/{ride.pk}/{action}/" if ride else f"{action}/")


def token(html: str) -> str:
    found = re.search(r'name="submission" value="([0-9a-f-]{36})"', html)
    assert found is not None
    return found.group(1)


def confirm(client: Client, url: str, **data: Any) -> Any:
    """Open the confirmation page, then submit it with ``data`` and its token; the response and the token."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    sent = {"submission": token(page.content.decode()), **data}
    return client.post(url, sent), sent


# --- the page ---------------------------------------------------------------------------------------------------

def test_the_rider_page_shows_profile_wallet_cards_rides_receipts_notifications_problems(vehicle: Any) -> None:
    ride = charged(vehicle)
    rider = ride.rider
    rider.phone = "+4915100000001"
    rider.save(update_fields=["phone"])
    ProblemReport.objects.create(ride=ride, category="brakes", description="squeaks")
    Notification.objects.create(user=rider, kind="x", title="Welcome aboard")
    client, _ = as_role("support_agent")
    html = client.get(rider_url(rider)).content.decode()
    assert rider.email in html and "+49 151 •••• 0001" in html and "+4915100000001" not in html  # masked
    assert "Active" in html and "Visa •••• 4242" in html
    assert f'href="/admin/rides/ride/{ride.pk}/change/"' in html  # the ride page has its track and fare
    assert f"{ride.fare_total} EUR" in html
    assert f'href="/api/v1/billing/rides/{ride.pk}/receipt.html"' in html
    assert "Welcome aboard" in html and "Brakes: squeaks" in html
    # The newest ride's track and fare, drawn by the ride page's own panels (rides.ride_page).
    assert 'id="ride-map-data"' in html and '<table class="fw-table fw-fare">' in html
    assert "Total (incl. VAT 19 %)" in html
    assert "Resend receipt…" in html and "Goodwill credit…" in html
    assert "Refund…" not in html and "Block…" not in html  # support: no refund, no block (role boundaries)


def test_the_page_shows_the_track_and_fare_of_the_ride_picked(vehicle: Any) -> None:
    first = charged(vehicle)
    second = a_ride(vehicle, track=False)
    Ride.objects.filter(pk=second.pk).update(rider=first.rider)
    client, _ = as_role("support_agent")
    newest = client.get(rider_url(first.rider)).content.decode()
    assert 'id="ride-map-data"' not in newest and "No track recorded" in newest  # the newest ride has none
    picked = client.get(rider_url(first.rider), {"ride": str(first.pk)}).content.decode()
    assert 'id="ride-map-data"' in picked and '<table class="fw-table fw-fare">' in picked


def test_an_empty_rider_page_says_what_would_be_there(db: Any) -> None:
    rider = UserFactory.create()
    html = as_role("support_agent")[0].get(rider_url(rider)).content.decode()
    for empty in ("No ride yet", "No wallet yet", "No saved card.", "Nothing sent to this rider yet.",
                  "No problem reported", "No note yet"):
        assert empty in html


@pytest.mark.parametrize(("role", "status"), [("support_agent", 200), ("finance", 200), ("admin", 200),
                                              ("fleet_manager", 403), ("field_technician", 403)])
def test_who_may_open_the_rider_page(role: str, status: int) -> None:
    rider = UserFactory.create()
    assert as_role(role)[0].get(rider_url(rider)).status_code == status


def test_the_page_needs_a_signed_in_staff_member(client: Client) -> None:
    rider = UserFactory.create()
    assert client.get(rider_url(rider)).status_code == 302  # the admin's login
    client.force_login(rider)
    assert client.get(rider_url(rider)).status_code == 302


def test_the_header_and_the_user_admin_link_to_support() -> None:
    rider = UserFactory.create()
    client, _ = as_role("support_agent")
    assert 'href="/admin/support/"' in client.get("/admin/").content.decode()
    assert f'href="{rider_url(rider)}"' in client.get(f"/admin/accounts/user/{rider.pk}/change/").content.decode()
    assert f'href="{rider_url(rider)}"' in client.get("/admin/accounts/user/").content.decode()


# --- search -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["015100000001", "0151 0000 0001", "+49 151 00000001", "004915100000001",
                                   "+4915100000001", "(0151) 000-00001"])
def test_search_by_phone_in_any_usual_format(typed: str) -> None:
    rider = UserFactory.create(phone="+4915100000001")
    UserFactory.create(phone="+4915100000002")
    client, _ = as_role("support_agent")
    r = client.get("/admin/support/", {"q": typed})
    assert r.status_code == 302 and r["Location"] == rider_url(rider)  # one match: straight to the page
    users = client.get("/admin/accounts/user/", {"q": typed}).content.decode()
    assert f"/admin/accounts/user/{rider.pk}/change/" in users and "+4915100000002" not in users


def test_a_national_number_follows_the_default_region(settings: Any) -> None:
    rider = UserFactory.create(phone="+33612345678")
    client, _ = as_role("support_agent")
    assert client.get("/admin/support/", {"q": "06 12 34 56 78"}).status_code == 200  # DE: no such number
    settings.PHONENUMBER_DEFAULT_REGION = "FR"
    assert client.get("/admin/support/", {"q": "06 12 34 56 78"})["Location"] == rider_url(rider)


def test_search_by_email_name_ride_id_and_vehicle_code(vehicle: Any) -> None:
    ride = a_ride(vehicle)
    rider = ride.rider
    User.objects.filter(pk=rider.pk).update(name="Ada Lovelace")
    client, _ = as_role("support_agent")
    assert client.get("/admin/support/", {"q": rider.email.upper()})["Location"] == rider_url(rider)
    assert client.get("/admin/support/", {"q": "ada love"})["Location"] == rider_url(rider)
    assert client.get("/admin/support/", {"q": rider.email.split("@")[0] + "@"})["Location"] == rider_url(rider)
    for q in (str(ride.pk), "sup001"):
        html = client.get("/admin/support/", {"q": q}).content.decode()
        assert f'href="/admin/rides/ride/{ride.pk}/change/"' in html and f'href="{rider_url(rider)}"' in html
        users = client.get("/admin/accounts/user/", {"q": q}).content.decode()
        assert f"/admin/accounts/user/{rider.pk}/change/" in users
    html = client.get("/admin/support/", {"q": "nobody-like-this"}).content.decode()
    assert "No rider matches" in html and "No ride has the id or the vehicle code" in html


# --- actions ----------------------------------------------------------------------------------------------------

def test_goodwill_by_support_is_confirmed_done_once_and_recorded(vehicle: Any) -> None:
    rider = UserFactory.create()
    client, agent = as_role("support_agent")
    url = action_url(rider, "goodwill")
    r, sent = confirm(client, url, amount="5.00", currency="EUR", reason="late unlock")
    assert r.status_code == 302 and r["Location"] == rider_url(rider)
    again = client.post(url, sent)  # the same form sent twice (double click, back and resend)
    assert again.status_code == 302
    assert wallet_balance(user=rider, currency="EUR").bonus == Decimal("5.00")
    note = SupportNote.objects.get(rider=rider)
    assert (note.author, note.kind, note.ok) == (agent, "goodwill", True)
    assert note.text == "Goodwill credit 5.00 EUR: late unlock" and note.outcome.startswith("Granted 5.00 EUR")
    html = client.get(rider_url(rider)).content.decode()
    assert "Goodwill credit 5.00 EUR: late unlock" in html and agent.email in html


def test_goodwill_above_the_staff_limit_fails_and_says_so(settings: Any, vehicle: Any) -> None:
    settings.BILLING_STAFF_APPROVAL_LIMIT = Decimal("10")
    rider = UserFactory.create()
    client, _ = as_role("support_agent")
    r, _sent = confirm(client, action_url(rider, "goodwill"), amount="50.00", currency="EUR", reason="x")
    assert r.status_code == 200 and "Not done: " in r.content.decode()
    assert wallet_balance(user=rider, currency="EUR").bonus == 0
    note = SupportNote.objects.get(rider=rider)
    assert note.ok is False and note.outcome.startswith("Failed: Amounts above the staff approval limit")


@pytest.mark.parametrize(("role", "allowed"), [("support_agent", False), ("finance", True), ("admin", True)])
def test_refund_is_finances_and_is_done_once(vehicle: Any, role: str, allowed: bool) -> None:
    ride = charged(vehicle)
    client, _ = as_role(role)
    url = action_url(ride.rider, "refund", ride)
    if not allowed:
        assert client.get(url).status_code == 403
        assert client.post(url, {"submission": str(uuid.uuid4()), "amount": "1", "reason": "x"}).status_code == 403
        assert not Refund.objects.exists()
        return
    page = client.get(url).content.decode()
    assert "Left to refund" in page and f'value="{ride.fare_total:.2f}"' in page  # full refund offered by default
    r, sent = confirm(client, url, amount="1.00", reason="brakes felt weak")
    assert r.status_code == 302
    client.post(url, sent)
    refund = Refund.objects.get(ride_id=ride.pk)
    assert (refund.amount, refund.status) == (Decimal("1.00"), Refund.Status.SUCCEEDED)
    note = SupportNote.objects.get(rider=ride.rider)
    assert note.kind == "refund" and note.ok and note.outcome.startswith("Refunded 1.00 EUR")


def test_a_refund_above_what_is_left_is_refused_and_recorded(vehicle: Any) -> None:
    ride = charged(vehicle)
    client, _ = as_role("finance")
    r, _sent = confirm(client, action_url(ride.rider, "refund", ride), amount="999.00", reason="x")
    assert r.status_code == 200 and "Not done: " in r.content.decode()
    assert not Refund.objects.filter(status=Refund.Status.SUCCEEDED).exists()
    assert SupportNote.objects.get(rider=ride.rider).ok is False


def test_an_action_on_another_riders_ride_is_not_found(vehicle: Any) -> None:
    ride = charged(vehicle)
    other = UserFactory.create()
    client, _ = as_role("finance")
    assert client.get(action_url(other, "refund", ride)).status_code == 404


@pytest.mark.parametrize(("role", "allowed"), [("support_agent", True), ("finance", False), ("admin", True)])
def test_force_end_an_open_ride(vehicle: Any, role: str, allowed: bool) -> None:
    ride = a_ride(vehicle, ended=False)
    Vehicle.objects.filter(pk=vehicle.pk).update(status="on_trip", trip_id=ride.pk)  # as ride_start
    client, _ = as_role(role)
    url = action_url(ride.rider, "force_end", ride)
    if not allowed:
        assert client.get(url).status_code == 403
        return
    assert "Force-end…" in client.get(rider_url(ride.rider)).content.decode()
    r, sent = confirm(client, url, reason="rider lost their phone")
    assert r.status_code == 302
    ride.refresh_from_db()
    assert ride.state not in (RideState.ACTIVE,) and ride.end_note == "rider lost their phone"
    assert client.post(url, sent).status_code in (302, 404)  # no second end: the note or the closed ride stops it
    assert SupportNote.objects.filter(rider=ride.rider, kind="force_end").count() == 1
    assert client.get(url).status_code == 404  # an ended ride has nothing to force-end


@pytest.mark.parametrize(("role", "allowed"), [("support_agent", False), ("fleet_manager", False),
                                               ("finance", False), ("admin", True)])
def test_block_and_unblock_with_a_reason_are_admins(role: str, allowed: bool) -> None:
    rider = UserFactory.create()
    client, _ = as_role(role)
    if role == "fleet_manager":  # cannot even see riders
        assert client.get(action_url(rider, "block")).status_code == 403
        return
    if not allowed:
        assert client.get(action_url(rider, "block")).status_code == 403
        rider.refresh_from_db()
        assert rider.status == "active"
        return
    r, _sent = confirm(client, action_url(rider, "block"), reason="fraudulent chargebacks")
    assert r.status_code == 302
    rider.refresh_from_db()
    assert (rider.status, rider.blocked_reason) == ("blocked", "fraudulent chargebacks")
    html = client.get(rider_url(rider)).content.decode()
    assert "Blocked: fraudulent chargebacks" in html and "Unblock…" in html
    r, _sent = confirm(client, action_url(rider, "unblock"), reason="chargebacks explained")
    rider.refresh_from_db()
    assert rider.status == "active"
    assert list(SupportNote.objects.filter(rider=rider).order_by("created_at").values_list("kind", flat=True)) \
        == ["block", "unblock"]


def test_staff_cannot_block_themselves() -> None:
    client, admin_member = as_role("admin")
    r, _sent = confirm(client, action_url(admin_member, "block"), reason="oops")
    assert r.status_code == 200 and "Not done" in r.content.decode()
    admin_member.refresh_from_db()
    assert admin_member.status == "active"


@pytest.mark.parametrize("role", ["support_agent", "finance", "admin"])
def test_resend_a_receipt(vehicle: Any, role: str) -> None:
    ride = charged(vehicle)
    client, _ = as_role(role)
    url = action_url(ride.rider, "receipt", ride)
    r, sent = confirm(client, url, reason="rider asked by email")
    assert r.status_code == 302
    client.post(url, sent)
    sent_receipts = Notification.objects.filter(user=ride.rider, kind="ride_receipt")
    assert sent_receipts.count() == 1
    assert sent_receipts.get().data["ride_id"] == str(ride.pk)
    assert f"{ride.fare_total} EUR" in sent_receipts.get().body


def test_notes_are_added_once_and_never_changed() -> None:
    rider = UserFactory.create()
    client, agent = as_role("support_agent")
    page = client.get(rider_url(rider)).content.decode()
    sent = {"submission": token(page), "text": "Called about a double charge; explained the hold."}
    assert client.post(rider_url(rider) + "notes", sent).status_code == 302
    client.post(rider_url(rider) + "notes", sent)
    note = SupportNote.objects.get(rider=rider)
    assert note.author == agent and note.kind == "note"
    note.text = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        note.save()
    assert "explained the hold" in client.get(rider_url(rider)).content.decode()


def test_a_technician_cannot_add_notes() -> None:
    rider = UserFactory.create()
    client, _ = as_role("field_technician")
    assert client.post(rider_url(rider) + "notes", {"submission": str(uuid.uuid4()), "text": "x"}).status_code == 403


# --- the staff API reads a rider's ride -------------------------------------------------------------------------

def test_staff_with_the_ride_view_permission_read_a_riders_ride(api: Any, vehicle: Any) -> None:
    ride = a_ride(vehicle)
    url = f"/api/v1/rides/{ride.pk}"
    assert api.as_(ride.rider).get(url).status_code == 200
    assert api.as_(member("support_agent")).get(url).json()["id"] == str(ride.pk)
    r = api.as_(UserFactory.create()).get(url)  # another rider: never told the ride exists
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ride_not_found")
    staff_without = UserFactory.create(is_staff=True)
    assert api.as_(staff_without).get(url).status_code == 404


def test_staff_cannot_credit_themselves(vehicle: Any) -> None:
    client, agent = as_role("support_agent")
    r, _sent = confirm(client, action_url(agent, "goodwill"), amount="1.00", currency="EUR", reason="me")
    assert "Not done" in r.content.decode()
    assert wallet_balance(user=agent, currency="EUR").bonus == 0


def test_the_page_reads_as_many_queries_for_1_ride_as_for_26(vehicle: Any) -> None:
    ride = charged(vehicle)
    client, _ = as_role("support_agent")
    client.get(rider_url(ride.rider))  # warm the session and permission caches

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get(rider_url(ride.rider), {"ride": str(ride.pk)}).status_code == 200
        return len(seen.captured_queries)

    one = queries()
    for _ in range(25):  # more rides than the page lists, each with a problem report and a notification
        extra = a_ride(vehicle, track=False)
        Ride.objects.filter(pk=extra.pk).update(rider=ride.rider)
        ProblemReport.objects.create(ride=extra, category="dirty")
        Notification.objects.create(user=ride.rider, kind="x", title="t")
    assert queries() <= one  # one query per panel, whatever the rider's history (the first also warmed a cache)


def test_the_rider_page_lists_another_citys_ride_but_its_actions_are_that_citys(vehicle: Any) -> None:
    from fleet import services as fleet_services

    ride = charged(vehicle)  # in Berlin
    client, agent = as_role("admin")
    fleet_services.staff_cities_set(user=agent, cities=[CityFactory.create(slug="hamburg")], all_cities=False,
                                    by=None)
    page = client.get(rider_url(ride.rider)).content.decode()
    assert "SUP001" in page and "another city's staff act on this ride" in page
    assert action_url(ride.rider, "refund", ride) not in page
    for action in ("refund", "force_end", "receipt"):
        assert client.get(action_url(ride.rider, action, ride)).status_code == 404, action
    assert client.get(action_url(ride.rider, "goodwill")).status_code == 200  # about the rider: any city's agent
    assert not Refund.objects.exists()
