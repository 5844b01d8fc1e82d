"""The zone page in a real browser: a fleet manager draws a zone on the map with Geoman (mouse clicks), saves it,
and it is a geofence at once; a self-intersecting outline is marked on the map where it crosses, before saving."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.models import Zone
from fleet.selectors import zones as zone_selectors
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, ZoneFactory, square

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_tiles(settings: Any) -> None:
    settings.MAP_TILE_URL = ""  # no tile server to reach from the test machine: the zones draw all the same


def _open_new_zone(admin_page: Any) -> tuple[Any, Any, Any]:
    city = CityFactory.create(slug="berlin", name="Berlin")
    ZoneFactory.create(city=city, name="Mitte", geometry=square(13.36, 52.50, 0.06))  # context on the map
    manager = UserFactory.create(is_staff=True, is_superuser=True, email="mia@example.com")
    page = admin_page(manager)
    page.goto(f"{page.base_url}/admin/fleet/zone/add/")
    page.locator("#zone-map .leaflet-pm-toolbar").first.wait_for()
    page.select_option("#id_city", str(city.id))  # the map shows the city's zones and fits to them
    page.fill("#id_name", "Alexanderplatz")
    page.select_option("#id_kind", "no_parking")
    page.fill("#id_priority", "10")  # before the operating area (100) where they overlap
    page.locator("#zone-map").scroll_into_view_if_needed()
    return page, city, manager


def _draw(page: Any, points: list[tuple[float, float]]) -> list[list[float]]:
    """Click the polygon tool, click each point (fractions of the map's box), click the first one again to close
    the shape; returns the clicked places as [lon, lat]."""
    page.locator("#zone-map .leaflet-pm-icon-polygon").click()
    box = page.locator("#zone-map").bounding_box()
    pixels = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    for x, y in [*pixels, pixels[0]]:
        page.mouse.click(x, y)
        page.wait_for_timeout(150)
    return [page.evaluate("([x, y]) => { const p = window.freewheelZoneMap.map.containerPointToLatLng([x, y]);"
                          " return [p.lng, p.lat]; }", [x - box["x"], y - box["y"]]) for x, y in pixels]


def test_a_zone_drawn_on_the_map_is_saved_and_is_a_geofence(admin_page: Any) -> None:
    page, city, manager = _open_new_zone(admin_page)
    corners = _draw(page, [(0.35, 0.35), (0.65, 0.35), (0.65, 0.65), (0.35, 0.65)])

    geometry = json.loads(page.input_value("#id_geometry"))  # the map wrote the field
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"][0][0]) == 5
    page.locator("#zone-gbfs-preview table.fw-gbfs-rules").wait_for()  # the live GBFS preview of the drawing
    assert "no" in page.locator("#zone-gbfs-preview tbody tr").first.inner_text()  # ending a ride: no

    page.locator("input[name=_save]").click()
    page.locator(".messagelist .success").wait_for()
    zone = Zone.objects.get(name="Alexanderplatz")
    lon = sum(c[0] for c in corners) / 4
    lat = sum(c[1] for c in corners) / 4
    verdict = zone_selectors.geofence_for_city(city.id).evaluate(lon, lat)
    assert verdict.zone_id == str(zone.id) and verdict.ride_end_allowed is False
    assert zone_selectors.geofence_for_city(city.id).evaluate(corners[0][0] - 0.01, lat).zone_id != str(zone.id)
    assert zone.history.get().history_user == manager
    assert page.console_errors == []  # no script error, nothing the Content-Security-Policy refused


def test_a_self_intersecting_outline_is_marked_on_the_map_before_saving(admin_page: Any) -> None:
    page, _city, _manager = _open_new_zone(admin_page)
    _draw(page, [(0.35, 0.35), (0.65, 0.65), (0.65, 0.35), (0.35, 0.65)])  # a bow tie: the edges cross mid-way

    page.locator("#zone-map-problem:not([hidden])").wait_for()
    assert "Self-intersection" in page.locator("#zone-map-problem").inner_text()
    marker = page.locator("#zone-map .fw-zone-problem-marker")
    marker.wait_for()
    box, spot = page.locator("#zone-map").bounding_box(), marker.bounding_box()
    centre = (spot["x"] + spot["width"] / 2 - box["x"], spot["y"] + spot["height"] / 2 - box["y"])
    assert centre == pytest.approx((0.5 * box["width"], 0.5 * box["height"]), abs=4)  # where the edges cross

    page.locator("input[name=_save]").click()  # the save refuses it too, and the map marks it again
    page.locator(".errornote").wait_for()
    assert not Zone.objects.filter(name="Alexanderplatz").exists()
    page.locator("#zone-map .fw-zone-problem-marker").wait_for()
