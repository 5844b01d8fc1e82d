"""The technicians' task page on a phone (390x844): tasks sorted by the phone's position (geolocation granted to the
browser), a task opened, a photo note added with the camera input, the task closed as done, and the vehicle back in
service."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from fleet import services
from fleet.models import OpsTask, OpsTaskNote
from fleet.states import Status
from tests.browser.conftest import SCREENSHOTS
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}
SHOTS = SCREENSHOTS.parent / "tasks_page"  # the pages as a technician sees them, kept for review


def test_a_technician_closes_a_task_on_a_phone_and_the_vehicle_is_back_in_service(
        admin_page: Any, tmp_path: Any) -> None:
    city = CityFactory.create(slug="berlin")
    near = VehicleFactory.create(city=city, code="BER001", lat=52.5205, lon=13.4050, battery_pct=70)
    services.vehicle_set_maintenance(vehicle_id=near.id)
    far = VehicleFactory.create(city=city, code="BER002", lat=52.5600, lon=13.4050)
    services.ops_task_open(vehicle_id=far.id, kind="inspect")
    inspect = services.ops_task_open(vehicle_id=near.id, kind="inspect", reason="rider reported: brakes")
    page = admin_page(member("field_technician"))
    page.set_viewport_size(PHONE)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 52.5200, "longitude": 13.4050})

    page.goto(f"{page.base_url}/ops/tasks/")
    page.wait_for_url("**lat=52.52*")  # the page asked the phone where it is and sorted by it
    cards = page.locator("li.card .code")
    assert cards.all_inner_texts() == ["BER001", "BER002"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scrolling
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "tasks_page_list.png"), full_page=True)

    page.locator("li.card", has_text="BER001").click()
    assert page.locator("a.btn", has_text="Directions").get_attribute("href").startswith("geo:52.520500,13.405000")
    page.get_by_role("button", name="Take this task").click()
    assert "The task is yours." in page.locator(".messages").inner_text()

    photo = tmp_path / "brakes.jpg"
    Image.new("RGB", (40, 30), "blue").save(photo, format="JPEG")
    page.locator("#note-form textarea").fill("brakes adjusted")
    page.locator("#note-form input[type=file]").set_input_files(str(photo))
    page.get_by_role("button", name="Add note").click()
    assert page.locator(".notes img").count() == 1

    page.locator("#close-form textarea").fill("brakes fine now")
    page.get_by_role("button", name="Close task").click()
    assert "BER001 is now available." in page.locator(".messages").inner_text()
    page.screenshot(path=str(SHOTS / "tasks_page_closed.png"), full_page=True)
    # The list's live socket has no server here (live_server is WSGI; test_tasks_live runs one): that error only.
    assert [e for e in page.console_errors if "/ws/v1/ops/tasks" not in e] == []

    near.refresh_from_db()
    inspect.refresh_from_db()
    assert (near.status, inspect.state, inspect.outcome) == (Status.AVAILABLE, "done", "brakes fine now")
    assert OpsTaskNote.objects.get(task=inspect).photo
    assert OpsTask.objects.filter(state="open").count() == 1
