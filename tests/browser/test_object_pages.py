"""A vehicle page and a ride page in a real browser: the map draws the track (an SVG path of Leaflet's), the
position, start, end and zone-crossing markers; a command sent from the vehicle page shows its acknowledgement
without a reload."""

from __future__ import annotations

from typing import Any

import pytest

from fleet import services as fleet_services
from fleet.models import Command
from tests.console.test_vehicle_page import history
from tests.fleet.factories import CityFactory, VehicleFactory, ZoneFactory, square
from tests.fleet.test_permissions import member
from tests.rides.test_ride_page import a_ride

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_tiles(settings: Any) -> None:
    settings.MAP_TILE_URL = ""  # the closed network has no tile server; vectors and markers draw without one


def drawn(page: Any, selector: str) -> int:
    page.locator(f"{selector}[data-drawn]").wait_for()
    return int(page.locator(selector).get_attribute("data-drawn"))


def fits(page: Any) -> bool:
    """No horizontal scrollbar at 1440 px (docs/admin.md)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_the_vehicle_page_draws_its_position_and_track(admin_page: Any) -> None:
    vehicle = VehicleFactory.create(city=CityFactory.create(slug="berlin"))
    history(vehicle, hours=3, every_s=30)
    page = admin_page(member("fleet_manager"))
    page.goto(f"{page.base_url}/admin/fleet/vehicle/{vehicle.pk}/change/")
    assert drawn(page, "#vehicle-map") > 10  # 3 h at 30 s (360 readings) simplified to a few dozen points
    track = page.locator("#vehicle-map path.fw-track")
    assert track.count() == 1
    box = track.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    assert page.locator("#vehicle-map path.fw-marker-vehicle").count() == 1
    assert page.locator("svg.console-line-chart polyline.line").count() >= 1  # the battery chart
    assert fits(page)
    assert page.console_errors == []


def test_the_ride_page_draws_the_track_with_start_end_and_crossings(admin_page: Any) -> None:
    city = CityFactory.create(slug="berlin")
    ZoneFactory.create(city=city, kind="operating_area")
    ZoneFactory.create(city=city, kind="no_parking", name="Mitte no parking", priority=10,
                       geometry=square(13.40, 52.52, 0.01))
    ride = a_ride(VehicleFactory.create(city=city))
    page = admin_page(member("support_agent"))
    page.goto(f"{page.base_url}/admin/rides/ride/{ride.pk}/change/")
    assert drawn(page, "#ride-map") == 31
    assert page.locator("#ride-map path.fw-track").count() == 1
    for kind in ("start", "end", "enter", "leave"):
        assert page.locator(f"#ride-map path.fw-marker-{kind}").count() == 1, kind
    assert page.locator("#ride-map path.fw-zone").count() == 2
    start = page.locator("#ride-map path.fw-marker-start").bounding_box()
    end = page.locator("#ride-map path.fw-marker-end").bounding_box()
    assert start is not None and end is not None and end["x"] - start["x"] > 200  # the ride went east
    assert fits(page)
    assert page.console_errors == []


def test_a_command_sent_from_the_vehicle_page_shows_its_acknowledgement(admin_page: Any, settings: Any) -> None:
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"
    vehicle = VehicleFactory.create(city=CityFactory.create(slug="berlin"))
    page = admin_page(member("field_technician"))
    page.goto(f"{page.base_url}/admin/fleet/vehicle/{vehicle.pk}/change/")
    page.select_option("select[name='CHANGE_FORM-action']", "send_locate")
    page.get_by_role("button", name="Run").click()
    assert "Send ring / locate to vehicle" in page.locator("#content-main p").first.inner_text()
    page.locator("input[name='confirm']").click()
    page.locator("#vehicle-commands[data-waiting='true']").wait_for()
    command = Command.objects.get(vehicle=vehicle)
    fleet_services.command_deliver(command_id=command.id)
    fleet_services.command_ack(command_id=command.id, ok=True)
    page.locator("#vehicle-commands .fw-state-acked").wait_for(timeout=10_000)  # no reload: the panel refreshed
    assert page.locator("#vehicle-commands[data-waiting='false']").count() == 1
    assert page.console_errors == []
