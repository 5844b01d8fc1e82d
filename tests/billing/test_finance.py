"""The admin's Finance pages (docs/billing.md "Finance"): figures against the ledger and the dashboard, CSV content
and escaping, captures and refunds per provider, debtors, and who may see them."""

from __future__ import annotations

import csv
import html
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db.models import Sum
from django.utils import timezone

from accounts.services import roles
from billing import reports
from billing.models import AccountKind, LedgerEntry, Payment, Refund
from billing.selectors import finance
from billing.services import fees, ledger, wallet
from billing.services.ledger import credit, debit
from console import selectors as console_selectors
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card, fund
from tests.console.test_dashboard import Day, _ledger
from tests.fleet.factories import CityFactory

pytestmark = pytest.mark.django_db

URLS = ["/admin/finance/", "/admin/finance/transactions/", "/admin/finance/captures/", "/admin/finance/debtors/"]


def _staff(role: str) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _csv(response: Any) -> list[list[str]]:
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _at(moment: datetime):
    """Book at ``moment``: the ledger stamps its rows with the current time (auto_now_add), never a given one."""
    return mock.patch("django.utils.timezone.now", return_value=moment)


def _charge(city: Any, *, net: str, vat: str, discounts: str = "0.00") -> None:
    """A ride charge paid from a rider's cash, as ``ride_charge_final`` books it (revenue, VAT, the fare)."""
    rider = UserFactory.create()
    cash = ledger.rider_account(user=rider, kind=AccountKind.RIDER_CASH, currency="EUR")
    receivable = ledger.rider_account(user=rider, kind=AccountKind.RIDER_RECEIVABLE, currency="EUR")
    total = Decimal(net) + Decimal(vat)
    ledger.ledger_post(
        kind="ride_charge", idempotency_key=f"ride_charge:{uuid.uuid4()}", user=rider, ride_id=uuid.uuid4(),
        metadata={"fare": {"discounts": discounts}},
        lines=[debit(receivable, total),
               credit(ledger.system_account(kind=AccountKind.REVENUE, currency="EUR", city=city), Decimal(net)),
               credit(ledger.system_account(kind=AccountKind.VAT_PAYABLE, currency="EUR", city=city), Decimal(vat))])
    assert cash.pk


# --- Daily revenue -------------------------------------------------------------------------------------------

def test_daily_revenue_matches_the_ledger_and_the_dashboard():
    now = timezone.now()
    day = Day(now)  # rides, a capped fare, a refund: every posting booked now
    Day(now)  # another city's money must not count here
    today = now.astimezone(ZoneInfo(day.city.timezone)).date()
    report = finance.revenue_by_day(city=day.city, first=today - timedelta(days=1), last=today)
    (yesterday, before), (last_day, money) = report.days
    assert (yesterday, last_day) == (today - timedelta(days=1), today)
    assert before == finance.MoneySums()  # nothing was booked yesterday
    books = _ledger(day.city)
    assert (money.net, money.vat, money.refunds) == (books["net"], books["vat"], books["refunds"])
    assert money.discounts == Decimal("12.00") and money.refunds == Decimal("2.38") and money.net > 0
    assert money.gross - money.discounts - money.refunds == money.net + money.vat
    board = console_selectors.dashboard(city=day.city, now=timezone.now())
    dash = board.periods[0].figures  # "Today" on the admin home: the same figures, to the cent
    assert (dash.gross, dash.discounts, dash.vat, dash.refunds, dash.net) == (
        money.gross, money.discounts, money.vat, money.refunds, money.net)
    assert report.total == money


def test_days_are_the_city_s_local_days_across_utc_midnight():
    city = CityFactory.create(slug="fin-la", timezone="America/Los_Angeles")  # UTC-8 in December
    with _at(datetime(2026, 12, 2, 7, 30, tzinfo=UTC)):  # 1 Dec, 23:30 in Los Angeles
        _charge(city, net="10.00", vat="1.90", discounts="1.00")
    with _at(datetime(2026, 12, 2, 8, 30, tzinfo=UTC)):  # 2 Dec, 00:30
        _charge(city, net="5.00", vat="0.95")
    report = finance.revenue_by_day(city=city, first=date(2026, 11, 30), last=date(2026, 12, 2))
    by_day = {d: (m.gross, m.discounts, m.vat, m.net) for d, m in report.days}
    assert by_day == {
        date(2026, 11, 30): (0, 0, 0, 0),
        date(2026, 12, 1): (Decimal("12.90"), Decimal("1.00"), Decimal("1.90"), Decimal("10.00")),
        date(2026, 12, 2): (Decimal("5.95"), Decimal(0), Decimal("0.95"), Decimal("5.00")),
    }
    assert report.total.net == Decimal("15.00")


def test_revenue_csv_streams_every_day_with_escaped_and_guarded_cells(client):
    city = CityFactory.create(slug="fin-csv", name='=HYPERLINK("http://evil"),"x"', timezone="UTC")
    with _at(datetime(2026, 12, 3, 12, tzinfo=UTC)):
        _charge(city, net="2.68", vat="0.51")
    client.force_login(_staff("finance"))
    rows = _csv(client.get("/admin/finance/", {"first": "2026-12-02", "last": "2026-12-03", "city": city.slug,
                                               "format": "csv"}))
    assert rows[0] == reports.REVENUE_HEADER
    # the city's name kept whole (its comma and quotes escaped by csv), behind an apostrophe: never a formula
    name = "'" + city.name
    assert rows[1:] == [["2026-12-02", name, "EUR", "0.00", "0.00", "0.00", "0.00", "0.00"],
                        ["2026-12-03", name, "EUR", "3.19", "0.00", "0.51", "0.00", "2.68"]]


def test_formula_guard_spares_numbers_and_plain_text():
    line = "".join(reports.csv_lines(["a"], [["=1+2", "+1", "-2", "@SUM(A1)", "\tx", "plain", "a-b",
                                                Decimal("-3.19"), 7, None, date(2026, 12, 1)]]))
    assert line.splitlines()[1] == "'=1+2,'+1,'-2,'@SUM(A1),'\tx,plain,a-b,-3.19,7,,2026-12-01"


def test_a_bad_range_is_refused_and_the_current_month_shown(client):
    client.force_login(_staff("finance"))
    page = html.unescape(client.get("/admin/finance/", {"first": "2026-12-05", "last": "2026-12-01"}).content.decode())
    assert "'From' is after 'To'." in page
    page = client.get("/admin/finance/", {"first": "2020-01-01", "last": "2026-12-01"}).content.decode()
    assert f"At most {finance.MAX_DAYS} days" in page


# --- Ledger transactions ---------------------------------------------------------------------------------------

def test_transactions_csv_has_one_line_per_entry_with_debit_credit_and_signed_amount(client, rider):
    city = CityFactory.create(slug="fin-txn", timezone="UTC")
    staff = _staff("finance")
    with _at(datetime(2026, 12, 4, 9, tzinfo=UTC)):
        _charge(city, net="2.68", vat="0.51")
        wallet.bonus_grant(user=rider, amount=Decimal("5.00"), currency="EUR", source=AccountKind.GOODWILL,
                           idempotency_key="fin-gw", description="=cmd|' /C calc'!A0", actor=staff)
    client.force_login(staff)
    rows = _csv(client.get("/admin/finance/transactions/", {"first": "2026-12-04", "last": "2026-12-04",
                                                            "format": "csv"}))
    assert rows[0] == reports.ENTRIES_HEADER
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(body) == LedgerEntry.objects.count() == 5
    revenue = next(r for r in body if r["account"] == f"revenue:{city.slug}:EUR")
    assert (revenue["debit"], revenue["credit"], revenue["signed_amount"]) == ("", "2.68", "-2.68")
    receivable = next(r for r in body if r["account_kind"] == AccountKind.RIDER_RECEIVABLE)
    assert (receivable["debit"], receivable["credit"], receivable["signed_amount"]) == ("3.19", "", "3.19")
    goodwill = [r for r in body if r["kind"] == "bonus"]
    assert {r["description"] for r in goodwill} == {"'=cmd|' /C calc'!A0"}
    assert {r["staff"] for r in goodwill} == {staff.email} and {r["rider"] for r in goodwill} == {rider.email}
    assert all(r["booked_at"].startswith("2026-12-04T09:00:00") for r in body)  # the admin's zone: UTC here
    # only the kind asked for
    rows = _csv(client.get("/admin/finance/transactions/", {"first": "2026-12-04", "last": "2026-12-04",
                                                            "kind": "bonus", "format": "csv"}))
    assert len(rows) == 3


def test_entries_are_read_in_batches_by_id_and_none_is_lost():
    city = CityFactory.create(slug="fin-batch")
    for _ in range(7):
        _charge(city, net="1.00", vat="0.19")
    start, end = timezone.now() - timedelta(hours=1), timezone.now() + timedelta(hours=1)
    ids = [row[0] for row in finance.entries_between(start=start, end=end, batch=4)]
    assert ids == sorted(LedgerEntry.objects.values_list("id", flat=True)) and len(ids) == 21


def test_transactions_page_shows_debit_and_credit_columns(client):
    city = CityFactory.create(slug="fin-page", timezone="UTC")
    _charge(city, net="2.68", vat="0.51")
    client.force_login(_staff("finance"))
    page = client.get("/admin/finance/transactions/").content.decode()
    assert "1 transaction" in page and f"revenue:{city.slug}:EUR" in page
    assert ">2.68<" in page and ">3.19<" in page and "-2.68" not in page


# --- Captures and refunds ----------------------------------------------------------------------------------------

def test_captures_and_refunds_per_day_match_the_payments_and_refunds(client):
    day = Day(timezone.now())  # card holds captured per ride, one refund to the card
    fund(UserFactory.create(), "20.00")  # a top-up
    first = timezone.now().astimezone(ZoneInfo("UTC")).date()
    days = finance.psp_by_day(timezone="UTC", first=first, last=first)
    assert [(d.provider, d.currency) for d in days] == [("testpsp", "EUR")]
    (row,) = days
    captured = Payment.objects.filter(status=Payment.Status.CAPTURED).aggregate(s=Sum("amount_captured"))["s"]
    refunded = Refund.objects.aggregate(s=Sum("card_amount"))["s"]
    assert (row.captured, row.captures) == (captured, Payment.objects.filter(status="captured").count())
    assert (row.refunded, row.refunds, row.chargebacks) == (refunded, 1, 0) and refunded == Decimal("2.38")
    clearing = LedgerEntry.objects.filter(account__kind=AccountKind.PSP_CLEARING).aggregate(s=Sum("amount"))["s"]
    assert row.net == captured - refunded == clearing
    client.force_login(_staff("finance"))
    rows = _csv(client.get("/admin/finance/captures/", {"first": first.isoformat(), "last": first.isoformat(),
                                                        "tz": "UTC", "format": "csv"}))
    assert rows == [reports.PSP_HEADER, [first.isoformat(), "testpsp", "EUR", str(row.captures), f"{captured:.2f}",
                                         "1", "2.38", "0", "0.00", f"{row.net:.2f}"]]
    assert day.refunded.id


def test_an_unknown_time_zone_falls_back_to_the_admin_s(client):
    client.force_login(_staff("finance"))
    page = client.get("/admin/finance/captures/", {"tz": "Mars/Olympus"}).content.decode()
    assert "Nothing was captured" in page and 'value="UTC" selected' in page


# --- Debtors -------------------------------------------------------------------------------------------------------

def test_debtors_with_amount_since_and_last_attempt(client, rider, other_rider):
    paid = UserFactory.create()
    t0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
    with _at(t0):  # debt, paid off by a top-up, then debt again: "since" is the new debt's
        fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("1.50"), currency="EUR")
    with _at(t0 + timedelta(days=1)):
        fund(rider, "5.00")
    with _at(t0 + timedelta(days=2)):  # 3.50 cash left; a fee of 7.00 and a declined card: 3.50 of debt
        add_card(rider, "tok_chargeDeclined")
        fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("7.00"), currency="EUR")
    with _at(t0 + timedelta(days=3)):
        fees.reservation_fee_charge(user=other_rider, reservation_id=uuid.uuid4(), amount=Decimal("9.00"),
                                    currency="EUR")
    with _at(t0):
        fees.reservation_fee_charge(user=paid, reservation_id=uuid.uuid4(), amount=Decimal("1.00"), currency="EUR")
    fund(paid, "5.00")  # paid off: not a debtor
    accounts = list(finance.debtor_accounts())
    found = finance.debtors(accounts)
    assert [(d.email, d.amount) for d in found] == [(other_rider.email, Decimal("9.00")), (rider.email, Decimal("3.50"))]
    assert found[0].since == t0 + timedelta(days=3) and found[0].last_attempt_at is None
    assert found[1].since == t0 + timedelta(days=2)
    assert found[1].last_attempt_at == t0 + timedelta(days=2)
    assert (found[1].last_attempt_status, found[1].last_attempt_failure) == ("failed", "card_declined")
    client.force_login(_staff("finance"))
    page = client.get("/admin/finance/debtors/").content.decode()
    assert "2 debtors" in page and f'href="/admin/support/riders/{rider.pk}/"' in page and ">9.00<" in page
    assert "/admin/accounts/user/" not in page
    assert paid.email not in page
    page = client.get("/admin/finance/debtors/", {"q": other_rider.email[:8]}).content.decode()
    assert other_rider.email in page and rider.email not in page


def test_debtors_link_to_the_support_page_only_for_staff_who_may_open_it(client, rider):
    fees.reservation_fee_charge(user=rider, reservation_id=uuid.uuid4(), amount=Decimal("2.00"), currency="EUR")
    ledger_reader = UserFactory.create(is_staff=True)  # reads the ledger, not riders: the email, no link
    ledger_reader.user_permissions.add(*_staff("finance").groups.get().permissions.exclude(
        content_type__app_label="console"))
    client.force_login(ledger_reader)
    page = client.get("/admin/finance/debtors/").content.decode()
    assert rider.email in page and "/admin/support/" not in page and "/admin/accounts/user/" not in page
    ledger_reader.user_permissions.add(*Group.objects.get(name="support_agent").permissions.filter(
        codename="view_user"))
    client.force_login(UserFactory._meta.model.objects.get(pk=ledger_reader.pk))  # permissions cached per object
    page = client.get("/admin/finance/debtors/").content.decode()
    assert f'href="/admin/accounts/user/{rider.pk}/change/"' in page  # no support page: the account's admin page


def test_no_debtors_says_so(client):
    client.force_login(_staff("finance"))
    assert "Nobody owes money" in client.get("/admin/finance/debtors/").content.decode()


# --- Who may see ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("role", "allowed"), [("support_agent", False), ("fleet_manager", False),
                                               ("field_technician", False), ("finance", True), ("admin", True)])
def test_only_staff_who_read_the_ledger_see_finance(client, role, allowed):
    client.force_login(_staff(role))
    for url in URLS:
        for params in ({}, {"format": "csv"}):
            assert client.get(url, params).status_code == (200 if allowed else 403), (url, params)
    home = client.get("/admin/").content.decode()
    assert ('href="/admin/finance/"' in home) is allowed


def test_signed_out_goes_to_the_login(client):
    for url in URLS:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/admin/login/")


def test_a_chargeback_counts_against_the_day_s_net(api, rider):
    from billing.providers import testpsp
    from tests.billing.conftest import deliver

    payment = fund(rider, "20.00")
    deliver(api)
    testpsp.dispute(payment.provider_ref, amount=Decimal("5.00"))
    deliver(api)
    today = timezone.now().astimezone(UTC).date()
    (row,) = finance.psp_by_day(timezone="UTC", first=today, last=today)
    assert (row.captured, row.chargebacks, row.charged_back, row.net) == (
        Decimal("20.00"), 1, Decimal("5.00"), Decimal("15.00"))


def test_under_an_asgi_server_the_csv_is_an_asynchronous_stream(settings):
    """In ``runserver`` (Daphne) a synchronous iterator would be read whole before the first byte is sent: the view
    hands an asynchronous one that reads each chunk in the request's thread."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    settings.ASGI_SERVER = True
    city = CityFactory.create(slug="fin-asgi", timezone="UTC")
    for _ in range(3):
        _charge(city, net="1.00", vat="0.19")
    staff = _staff("finance")
    today = timezone.now().astimezone(UTC).date().isoformat()

    async def download() -> list[bytes]:
        client = AsyncClient()
        await client.aforce_login(staff)
        response: Any = await client.get("/admin/finance/transactions/", {"first": today, "last": today,
                                                                           "format": "csv"})
        assert response.is_async and response.streaming
        return [chunk async for chunk in response.streaming_content]

    rows = list(csv.reader(io.StringIO(b"".join(async_to_sync(download)()).decode())))
    assert rows[0] == reports.ENTRIES_HEADER and len(rows) == 1 + 9
