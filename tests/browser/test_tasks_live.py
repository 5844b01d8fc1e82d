"""The technicians' task page follows task changes live, on a phone: the page (live_server) opens /ws/v1/ops/tasks on a
real Daphne process with a ticket of the staff session; a task closed through the REST API by someone else
disappears from the open page, a task opened elsewhere appears, a reprioritised one moves up, all without a
reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from config import env
from fleet import services
from tests import processes
from tests.browser.conftest import SCREENSHOTS
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
SHOTS = SCREENSHOTS.parent / "tasks_page"


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """A Daphne process on the test database: the socket server the page connects to."""
    url = env.database_url(settings.DATABASES["default"])
    process, base = processes.start_daphne({**os.environ, "DATABASE_URL": url, "DEBUG": "1"})
    yield base
    processes.stop(process, timeout=10)


def _codes(page: Any) -> list[str]:
    return page.locator("li.card .code").all_inner_texts()


def test_a_task_closed_through_the_api_disappears_from_an_open_page(admin_page: Any, daphne: str, api: Any,
                                                                    settings: Any) -> None:
    settings.CONSOLE_MAP_SOCKET_ORIGIN = daphne
    city = CityFactory.create(slug="berlin", timezone="Europe/Berlin")
    first = VehicleFactory.create(city=city, code="BER001", lat=52.5205, lon=13.4050)
    second = VehicleFactory.create(city=city, code="BER002", lat=52.5300, lon=13.4050)
    third = VehicleFactory.create(city=city, code="BER003", lat=52.5400, lon=13.4050)
    inspect = services.ops_task_open(vehicle_id=first.id, kind="inspect")
    rebalance = services.ops_task_open(vehicle_id=second.id, kind="rebalance")
    page = admin_page(member("field_technician"))
    page.set_viewport_size(PHONE)
    page.goto(f"{page.base_url}/ops/tasks/?lat=52.52&lon=13.405")
    page.wait_for_selector("#live-state.on")
    assert _codes(page) == ["BER001", "BER002"]

    # A colleague closes BER001's task from their app (the REST API), another opens one for BER003.
    api.as_(member("field_technician"))
    r = api.post(f"/api/v1/ops/tasks/{inspect.id}/close", {"outcome": "cancelled", "note": "duplicate report"})
    assert r.status_code == 200
    page.wait_for_selector(f'li.card[data-task-id="{inspect.id}"]', state="detached")
    assert _codes(page) == ["BER002"]

    repair = services.ops_task_open(vehicle_id=third.id, kind="repair")
    page.wait_for_selector(f'li.card[data-task-id="{repair.id}"]')
    assert _codes(page) == ["BER003", "BER002"]  # a repair (high) before a rebalance (low)

    # A manager makes the rebalance urgent: it moves to the top.
    api.as_(member("fleet_manager"))
    assert api.patch(f"/api/v1/ops/tasks/{rebalance.id}", {"priority": 1}).status_code == 200
    page.wait_for_function("() => document.querySelector('li.card .code').textContent === 'BER002'")
    assert _codes(page) == ["BER002", "BER003"]
    assert page.url.endswith("/ops/tasks/?lat=52.52&lon=13.405")  # never reloaded: the same page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "tasks_page_live.png"), full_page=True)
    assert page.console_errors == []
