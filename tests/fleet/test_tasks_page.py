"""The technicians' task page through Django's client: roles, lists, actions and their messages, empty states."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from fleet import services
from fleet.models import OpsTask, OpsTaskNote
from fleet.services import ops
from fleet.states import Status
from tests.fleet.factories import VehicleFactory
from tests.fleet.test_field_tasks import in_maintenance, jpeg, member

pytestmark = pytest.mark.django_db


def signed_in(role: str) -> tuple[Client, Any]:
    user = member(role)
    client = Client()
    client.force_login(user)
    return client, user


def test_the_page_needs_a_staff_session_and_the_task_permission(rider: Any) -> None:
    assert Client().get("/ops/tasks/").status_code == 302  # to the admin's login
    client, _ = signed_in("finance")
    assert client.get("/ops/tasks/").status_code == 403
    client, _ = signed_in("support_agent")
    assert client.get("/ops/tasks/").status_code == 200
    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="inspect")
    page = client.get(f"/ops/tasks/{task.id}/").content.decode()
    assert "Close task" not in page and "Add note" not in page  # support reads, does not work
    assert client.post(f"/ops/tasks/{task.id}/close", {"outcome": "done"}).status_code == 403


def test_lists_mine_and_nearby_by_priority_then_distance_with_an_empty_state() -> None:
    client, tech = signed_in("field_technician")
    page = client.get("/ops/tasks/").content.decode()
    assert "Nothing assigned to you" in page and "No open tasks" in page
    far = VehicleFactory.create(code="FAR1", lat=52.60, lon=13.40)
    near = VehicleFactory.create(code="NEAR1", lat=52.521, lon=13.405)
    mine = VehicleFactory.create(code="MINE1")
    services.ops_task_open(vehicle_id=far.id, kind="repair")
    services.ops_task_open(vehicle_id=near.id, kind="repair")
    services.ops_task_open(vehicle_id=near.id, kind="rebalance")
    services.ops_task_assign(task_id=services.ops_task_open(vehicle_id=mine.id, kind="inspect").id, assignee=tech)
    page = client.get("/ops/tasks/", {"lat": "52.52", "lon": "13.405"}).content.decode()
    mine_at, near_at, far_at = page.index("MINE1"), page.index("NEAR1"), page.index("FAR1")
    assert mine_at < near_at < far_at and page.rindex("NEAR1") > far_at  # the rebalance (low) after the far repair
    assert "111 m" in page
    assert "FAR1" not in client.get("/ops/tasks/", {"kind": "rebalance"}).content.decode()


def test_take_note_and_close_from_the_page_puts_the_vehicle_back(tmp_path: Any) -> None:
    client, tech = signed_in("field_technician")
    vehicle = in_maintenance(code="BER001")
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    url = f"/ops/tasks/{task.id}/"
    page = client.get(url).content.decode()
    assert 'capture="environment"' in page and "geo:52.520000,13.405000" in page
    assert "The task is yours." in client.post(f"{url}take", follow=True).content.decode()
    r = client.post(f"{url}note", {"text": "brakes ok", "photo": jpeg()}, follow=True)
    assert "Note added." in r.content.decode() and OpsTaskNote.objects.get().photo
    r = client.post(f"{url}note", {"text": ""}, follow=True)
    assert "A note needs a text, a photo or both." in r.content.decode()
    r = client.post(f"{url}close", {"outcome": "not_done"}, follow=True)
    assert "Say why the task was not done." in r.content.decode()
    r = client.post(f"{url}close", {"outcome": "done", "note": "fine"}, follow=True)
    assert "BER001 is now available." in r.content.decode()
    vehicle.refresh_from_db()
    task.refresh_from_db()
    assert (vehicle.status, task.state, task.closed_by, task.outcome) == (Status.AVAILABLE, "done", tech, "fine")
    assert client.get(f"/ops/tasks/{uuid.uuid4()}/").status_code == 404
    assert OpsTask.objects.filter(state="open").count() == 0


def test_the_list_page_carries_what_its_live_socket_needs(settings: Any) -> None:
    settings.CONSOLE_MAP_SOCKET_ORIGIN = "wss://ws.example.com"
    client, _ = signed_in("field_technician")
    response = client.get("/ops/tasks/")
    page = response.content.decode()
    assert 'data-ticket-url="/admin/map/ticket"' in page and 'data-socket-origin="wss://ws.example.com"' in page
    assert "connect-src 'self' wss://ws.example.com" in response["Content-Security-Policy"]
    assert client.post("/admin/map/ticket").status_code == 200  # the technician may get a socket ticket


def test_a_task_whose_condition_cleared_says_it_is_no_longer_needed() -> None:
    client, tech = signed_in("field_technician")
    task = services.ops_task_open(vehicle_id=VehicleFactory.create(code="IDLE1").id, kind="rebalance")
    services.ops_task_assign(task_id=task.id, assignee=tech)
    OpsTask.objects.filter(id=task.id).update(condition="misparked")
    ops.ops_tasks_mark_cleared(vehicle_ids=[task.vehicle_id], kind="rebalance")
    assert "No longer needed: close it as not needed." in client.get("/ops/tasks/").content.decode()
    assert "the vehicle no longer needs moving" in client.get(f"/ops/tasks/{task.id}/").content.decode()
