"""The admin home's KPI dashboard in a real browser: what a fleet manager reads matches the rides table and the
ledger of a generated day (tests/console/test_dashboard.py checks the selectors; this checks the page)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from console import services
from rides.models import Ride, RideState
from tests.accounts.factories import UserFactory
from tests.console.test_dashboard import Day, _ledger

pytestmark = pytest.mark.django_db(transaction=True)


def _rows(page: Any) -> dict[str, list[str]]:
    """The figures table as the browser shows it: row name -> [today, yesterday, 7 days]."""
    rows: dict[str, list[str]] = {}
    for row in page.locator("table.console-figures tbody tr").all():
        rows[row.locator("th").inner_text().strip()] = [c.strip() for c in row.locator("td").all_inner_texts()]
    return rows


def _tiles(page: Any) -> dict[str, str]:
    return {tile.locator(".name").inner_text(): tile.locator(".value").inner_text()
            for tile in page.locator(".console-now .console-tile").all()}


def test_the_dashboard_shows_the_figures_of_the_database(admin_page):
    now = timezone.now()
    day = Day(now)
    Day(now)  # a second city: the picker appears, and its day must not leak into the first
    services.rollup_rebuild(since=now - timedelta(days=8))
    page = admin_page(UserFactory.create(is_staff=True, is_superuser=True))

    page.goto(f"{page.base_url}/admin/?city={day.city.slug}")
    page.locator("table.console-figures").wait_for()

    assert day.city.name in page.locator(".console-head h2").inner_text()
    ended = Ride.objects.filter(city=day.city, state=RideState.ENDED)
    today = ended.filter(ended_at__gte=day.midnight)
    rows = _rows(page)
    assert rows["Rides"] == [str(today.count()), str(ended.count() - today.count()), str(ended.count())]
    assert rows["Failed unlocks"][0] == str(Ride.objects.filter(city=day.city, state=RideState.CANCELLED).count())
    minutes = today.aggregate(s=Sum("duration_s"))["s"] / 60 / today.count()
    assert rows["Average duration"][0] == f"{minutes:.1f} min"
    books = _ledger(day.city)
    assert rows["Net revenue"][2] == f"{books['net']:.2f}"
    assert rows["VAT"][2] == f"{books['vat']:.2f}"
    assert rows["Refunds"][2] == f"{books['refunds']:.2f}" == f"{Decimal('2.38'):.2f}"

    open_rides = Ride.objects.filter(city=day.city, state__in=[RideState.ACTIVE, RideState.PAUSED]).count()
    tiles = _tiles(page)
    assert tiles["active rides now"] == str(open_rides)
    assert (tiles["available"], tiles["low battery"], tiles["offline"]) == ("4", "1", "2")
    assert tiles["vehicles in the fleet"] == "9"

    # The charts are drawn (SVG, no script), and the page raised no error in the console (CSP included).
    assert page.locator(".console-charts svg").count() == 2
    assert page.console_errors == []

    # The picker switches city without a reload of anything but the page.
    other = page.locator("#console-city option:not([selected])").first.get_attribute("value")
    page.select_option("#console-city", other)
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(f"**/admin/?city={other}")
    assert _rows(page)["Rides"][0] == "3"
