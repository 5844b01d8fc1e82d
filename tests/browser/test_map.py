"""The live fleet map in a real browser: the page (live_server) opens the fleet socket on a real Daphne process
with a ticket it got as the signed-in staff member; a vehicle moves when its telemetry goes through the real
pipeline, and a command sent from the panel shows as acknowledged when the (simulated) vehicle answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from accounts import roles
from config import env
from fleet import services as fleet_services
from fleet.models import Command
from telemetry import ingest, pipeline
from tests import processes
from tests.accounts.factories import UserFactory
from tests.browser.conftest import SCREENSHOTS
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory
from tests.telemetry.conftest import message

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A Daphne process on the test database: the socket server the page connects to."""
    url = env.database_url(settings.DATABASES["default"])
    process, base = processes.start_daphne(
        {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "LIVE_FLEET_INTERVAL_MS": "200"})
    yield base
    processes.stop(process, timeout=10)


@pytest.fixture
def city_map(daphne: str, settings: Any) -> Any:
    settings.CONSOLE_MAP_SOCKET_ORIGIN = daphne
    settings.MAP_TILE_URL = ""  # no network in tests: the map draws on a plain background
    city = CityFactory.create(slug="berlin", name="Berlin", timezone="Europe/Berlin")
    scooter = VehicleTypeFactory.create(code="scooter")
    vehicle = VehicleFactory.create(city=city, vehicle_type=scooter, code="MOVER1", lat=52.5200, lon=13.4050)
    VehicleFactory.create(city=city, vehicle_type=scooter, code="STILL1", lat=52.5210, lon=13.4030, battery_pct=12)
    return city, vehicle


def _staff(role: str) -> Any:
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def _open_map(admin_page: Any, user: Any) -> Any:
    page = admin_page(user)
    page.goto(f"{page.base_url}/admin/map/?city=berlin")
    page.wait_for_selector("#fw-map[data-ready]")
    return page


def _position(page: Any, vehicle: Any) -> list[float] | None:
    return page.evaluate("""(id) => { const m = window.fwMap.markers.get(id);
        return m ? [m.getLatLng().lat, m.getLatLng().lng] : null; }""", str(vehicle.id))


def test_the_map_shows_a_vehicle_moving_when_its_telemetry_arrives(admin_page, city_map):
    city, vehicle = city_map
    page = _open_map(admin_page, _staff(roles.SUPPORT_AGENT))
    assert page.get_attribute("#fw-map", "data-mode") == "vehicles"
    assert page.locator("#fw-map-status").inner_text() == "Live · 2 vehicles in view"
    assert _position(page, vehicle) == pytest.approx([52.5200, 13.4050])

    # Through the real ingestion path: the edge queues, the pipeline applies the batch and pushes the positions.
    ingest.ingest(vehicle.id, [message(1, lat=52.5206, lon=13.4061, battery_pct=64)])
    assert pipeline.drain_until_empty() == 1
    page.wait_for_function("""(id) => { const m = window.fwMap.markers.get(id);
        return m && Math.abs(m.getLatLng().lat - 52.5206) < 1e-6; }""", arg=str(vehicle.id))
    assert _position(page, vehicle) == pytest.approx([52.5206, 13.4061])
    assert page.evaluate("(id) => window.fwMap.markers.get(id).fw.battery_pct", str(vehicle.id)) == 64
    assert page.console_errors == []


def _click_vehicle(page: Any, vehicle: Any) -> None:
    """Markers are drawn on a canvas (fast with thousands): click where the map draws this one."""
    x, y = page.evaluate("""(id) => { const m = window.fwMap.markers.get(id);
        const p = window.fwMap.map.latLngToContainerPoint(m.getLatLng());
        const r = document.getElementById("fw-map").getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""",
                         str(vehicle.id))
    page.mouse.click(x, y)


def test_a_command_from_the_panel_is_shown_acknowledged_when_the_vehicle_acks(admin_page, city_map):
    city, vehicle = city_map
    page = _open_map(admin_page, _staff(roles.FIELD_TECHNICIAN))
    _click_vehicle(page, vehicle)
    page.wait_for_selector("#fw-panel-status")
    panel = page.locator("#fw-map-panel")
    assert panel.locator("h2 a").inner_text() == "MOVER1"
    assert panel.locator("#fw-panel-battery").inner_text() == "80 %"
    assert panel.locator("button[data-kind]").all_inner_texts() == [
        "Lock", "Unlock", "Ring / locate", "Alarm", "Speed limit"]  # back in service: for a vehicle in maintenance

    panel.locator("button[data-kind=locate]").click()
    queued = panel.locator(".fw-panel-acks li[data-command]")
    queued.wait_for()
    assert "waiting for the vehicle" in queued.inner_text()
    command = Command.objects.get(id=queued.get_attribute("data-command"))
    assert (command.kind, command.vehicle_id) == ("locate", vehicle.id)

    # The simulated vehicle: the command is delivered and the unit answers ok.
    fleet_services.command_deliver(command_id=command.id)
    fleet_services.command_ack(command_id=command.id, ok=True)
    page.wait_for_selector(".fw-panel-acks li.fw-ack-acked")
    assert queued.inner_text() == "locate: acknowledged by the vehicle"
    assert page.console_errors == []


def test_a_support_agent_sees_the_panel_without_commands(admin_page, city_map):
    city, vehicle = city_map
    page = _open_map(admin_page, _staff(roles.SUPPORT_AGENT))
    _click_vehicle(page, vehicle)
    page.wait_for_selector("#fw-panel-status")
    assert page.locator("#fw-map-panel button[data-kind]").count() == 0


def test_zoom_and_filters_change_the_view_on_the_same_socket(admin_page, city_map):
    city, vehicle = city_map
    page = admin_page(_staff(roles.SUPPORT_AGENT))
    sockets: list[Any] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.goto(f"{page.base_url}/admin/map/?city=berlin")
    page.wait_for_selector("#fw-map[data-ready]")
    first = page.get_attribute("#fw-map", "data-ready")

    page.evaluate("() => window.fwMap.map.setZoom(window.fwMap.map.getZoom() - 3)")
    page.wait_for_function("(before) => document.getElementById('fw-map').dataset.ready !== before", arg=first)
    page.fill("#fw-map-battery", "50")
    page.dispatch_event("#fw-map-battery", "change")
    page.wait_for_function("(id) => !window.fwMap.markers.has(id)", arg=str(vehicle.id))
    assert page.evaluate("() => Array.from(window.fwMap.markers.values()).map(m => m.fw.code)") == ["STILL1"]
    assert page.locator("#fw-map-status").inner_text() == "Live · 1 vehicle in view"
    assert len(sockets) == 1  # a new view is a message on the open socket, not a reconnect


def test_a_task_opened_from_the_panel_is_listed_in_the_panel(admin_page, city_map):
    city, vehicle = city_map
    page = _open_map(admin_page, _staff(roles.FIELD_TECHNICIAN))
    _click_vehicle(page, vehicle)
    page.wait_for_selector("#fw-panel-status")
    panel = page.locator("#fw-map-panel")
    panel.locator("#fw-task-kind").select_option("repair")
    panel.locator("#fw-task-create").click()
    panel.locator(".fw-panel-list a", has_text="repair · open").wait_for()
    shots = SCREENSHOTS.parent / "tasks_page"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "map_panel_task.png"))
    assert vehicle.ops_tasks.get().kind == "repair"
    assert page.console_errors == []
