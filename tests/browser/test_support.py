"""Support's rider page in a real browser, as a support agent: found from the header by a national phone number,
the page fits 1440 px and draws the ride's track, and a goodwill credit is confirmed on its own page and recorded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.selectors import wallet_balance
from console.models import SupportNote
from tests.console.test_support import charged
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _no_tiles(settings: Any) -> None:
    settings.MAP_TILE_URL = ""  # the closed network has no tile server; vectors and markers draw without one


def fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_find_a_rider_by_phone_and_grant_goodwill(admin_page: Any) -> None:
    vehicle = VehicleFactory.create(city=CityFactory.create(slug="berlin", name="Berlin"), code="SUP001")
    ride = charged(vehicle)
    rider = ride.rider
    rider.phone = "+4915100000001"
    rider.save(update_fields=["phone"])
    page = admin_page(member("support_agent"))
    page.goto(f"{page.base_url}/admin/")
    page.get_by_role("link", name="Support").first.click()
    page.get_by_label("Find a rider or ride").fill("0151 0000 0001")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"**/admin/support/riders/{rider.pk}/")
    assert fits(page)
    assert page.locator("#ride-map .leaflet-interactive").count() >= 1  # the track (and markers) drawn
    page.get_by_role("link", name="Goodwill credit…").click()
    page.get_by_label("Amount").fill("4.00")
    page.get_by_label("Reason").fill("slow unlock")
    page.get_by_role("button", name="Confirm: grant goodwill credit").click()
    page.wait_for_url(f"**/admin/support/riders/{rider.pk}/")
    assert "Granted 4.00 EUR bonus credit" in page.locator("#notes").inner_text()
    assert wallet_balance(user=rider, currency="EUR").bonus == Decimal("4.00")
    assert SupportNote.objects.filter(rider=rider, kind="goodwill", ok=True).count() == 1
    assert page.console_errors == []
