"""Field technicians' tasks through the API: ordering by priority then distance, "mine", create by hand, assign to a
colleague, notes and photos (limits), close as done / not done, and the vehicle back in service where that is right."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from accounts.services.roles import roles_sync
from fleet import services
from fleet.models import OpsTask, OpsTaskNote, Vehicle, VehicleEvent
from fleet.states import Status
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db
TASKS = "/api/v1/ops/tasks"
HERE = (52.5200, 13.4050)


def member(role: str) -> Any:
    roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def jpeg(name: str = "p.jpg") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "red").save(out, format="JPEG")
    return SimpleUploadedFile(name, out.getvalue(), "image/jpeg")


def in_maintenance(**kwargs: Any) -> Vehicle:
    vehicle = VehicleFactory.create(**kwargs)
    services.vehicle_set_maintenance(vehicle_id=vehicle.id)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE
    return vehicle


# --- list --------------------------------------------------------------------------------------------------------

def test_tasks_come_by_priority_then_distance_from_the_technician(api: Any) -> None:
    # ~1.1 km apart per 0.01 degree of latitude
    near_swap = VehicleFactory.create(lat=52.5210, lon=13.4050)
    far_swap = VehicleFactory.create(lat=52.5600, lon=13.4050)
    mid_swap = VehicleFactory.create(lat=52.5300, lon=13.4050)
    far_secure = VehicleFactory.create(lat=52.5700, lon=13.4050)
    nowhere = VehicleFactory.create(lat=None, lon=None, cell=None)
    for vehicle in (near_swap, far_swap, mid_swap, nowhere):
        services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery")
    services.ops_task_open(vehicle_id=far_secure.id, kind="secure")  # urgent: first however far
    rebalance = services.ops_task_open(vehicle_id=near_swap.id, kind="rebalance")  # low: last however near
    api.as_(member("field_technician"))
    body = api.get(TASKS, {"lat": HERE[0], "lon": HERE[1]}).json()
    assert [(t["vehicle_code"], t["kind"]) for t in body["results"]] == [
        (far_secure.code, "secure"), (near_swap.code, "swap_battery"), (mid_swap.code, "swap_battery"),
        (far_swap.code, "swap_battery"), (nowhere.code, "swap_battery"), (near_swap.code, "rebalance")]
    distances = [t["distance_m"] for t in body["results"]]
    assert 100 < distances[1] < 120 and 1100 < distances[2] < 1130 and distances[4] is None
    assert body["results"][-1]["id"] == str(rebalance.id) and body["results"][-1]["priority"] == 4
    # Without a position: priority, then oldest.
    plain = api.get(TASKS).json()["results"]
    assert plain[0]["kind"] == "secure" and plain[0]["distance_m"] is None and plain[-1]["kind"] == "rebalance"


def test_list_filters_mine_kind_city_and_refuses_half_a_position(api: Any) -> None:
    tech, other = member("field_technician"), member("field_technician")
    a, b = VehicleFactory.create(), VehicleFactory.create()
    mine = services.ops_task_open(vehicle_id=a.id, kind="repair")
    theirs = services.ops_task_open(vehicle_id=b.id, kind="inspect")
    services.ops_task_assign(task_id=mine.id, assignee=tech)
    services.ops_task_assign(task_id=theirs.id, assignee=other)
    api.as_(tech)
    assert [t["id"] for t in api.get(TASKS, {"mine": "true"}).json()["results"]] == [str(mine.id)]
    assert [t["id"] for t in api.get(TASKS, {"kind": "inspect"}).json()["results"]] == [str(theirs.id)]
    assert [t["id"] for t in api.get(TASKS, {"city": str(b.city_id)}).json()["results"]] == [str(theirs.id)]
    assert code(api.get(TASKS, {"lat": 52.5})) == (400, "validation_error")
    assert code(api.get(TASKS, {"lat": 95, "lon": 13})) == (400, "invalid_coordinates")


def test_the_list_costs_the_same_queries_for_many_tasks(api: Any, django_assert_max_num_queries: Any) -> None:
    for _ in range(12):
        services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="inspect")
    api.as_(member("field_technician"))
    with django_assert_max_num_queries(6):  # auth, permissions, count, page
        assert len(api.get(TASKS, {"lat": HERE[0], "lon": HERE[1]}).json()["results"]) == 12


# --- create, assign -----------------------------------------------------------------------------------------------

def test_a_technician_opens_a_task_by_hand_and_a_second_one_returns_it(api: Any) -> None:
    vehicle = VehicleFactory.create()
    api.as_(member("field_technician"))
    r = api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "repair", "reason": "loose handlebar"}, format="json")
    assert (r.status_code, r.json()["kind"], r.json()["priority"], r.json()["reason"]) == (
        201, "repair", 2, "loose handlebar")
    again = api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "repair", "priority": 1}, format="json")
    assert again.json()["id"] == r.json()["id"] and OpsTask.objects.count() == 1
    assert code(api.post(TASKS, {"vehicle": str(uuid.uuid4()), "kind": "repair"}, format="json")) == (
        404, "vehicle_not_found")
    assert code(api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "paint"}, format="json")) == (
        400, "validation_error")


@pytest.mark.parametrize(("role", "can_read", "can_work"), [
    ("support_agent", True, False), ("field_technician", True, True), ("fleet_manager", True, True),
    ("finance", False, False),
])
def test_field_task_endpoints_follow_the_roles(api: Any, role: str, can_read: bool, can_work: bool) -> None:
    vehicle = VehicleFactory.create()
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    api.as_(member(role))
    assert api.get(f"{TASKS}/{task.id}").status_code == (200 if can_read else 403)
    assert api.get(f"{TASKS}/{task.id}/notes").status_code == (200 if can_read else 403)
    assert api.post(f"{TASKS}/{task.id}/notes", {"text": "x"}, format="json").status_code == (
        201 if can_work else 403)
    assert api.post(TASKS, {"vehicle": str(vehicle.id), "kind": "repair"}, format="json").status_code == (
        201 if can_work else 403)
    assert api.post(f"{TASKS}/{task.id}/assign").status_code == (200 if can_work else 403)


def test_a_task_is_given_to_a_colleague_who_may_work_on_tasks(api: Any, rider: Any) -> None:
    tech, colleague, support = member("field_technician"), member("field_technician"), member("support_agent")
    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="inspect")
    api.as_(tech)
    r = api.post(f"{TASKS}/{task.id}/assign", {"assignee": str(colleague.id)}, format="json")
    assert (r.status_code, r.json()["assignee"], r.json()["state"]) == (200, str(colleague.id), "assigned")
    for nobody in (support.id, rider.id, uuid.uuid4()):
        assert code(api.post(f"{TASKS}/{task.id}/assign", {"assignee": str(nobody)}, format="json")) == (
            422, "ops_task_assignee_invalid")
    assert OpsTask.objects.get().assignee == colleague


# --- notes and photos ---------------------------------------------------------------------------------------------

def test_a_note_with_a_photo_is_stored_reencoded_and_served_to_staff_only(api: Any) -> None:
    tech = member("field_technician")
    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="repair")
    api.as_(tech)
    r = api.post(f"{TASKS}/{task.id}/notes", {"text": "brake cable cut", "photo": jpeg("my street.jpg")},
                 format="multipart")
    assert r.status_code == 201, r.json()
    note = OpsTaskNote.objects.get()
    name = str(note.photo.name)
    assert name.startswith("fleet/tasks/") and "street" not in name
    assert (r.json()["text"], r.json()["author"], r.json()["photo_url"]) == ("brake cable cut", str(tech.id),
                                                                             note.photo.url)
    assert [n["id"] for n in api.get(f"{TASKS}/{task.id}/notes").json()] == [str(note.id)]
    browser = Client()
    browser.force_login(member("support_agent"))
    assert browser.get(note.photo.url).status_code == 200
    browser.force_login(member("finance"))
    assert browser.get(note.photo.url).status_code == 404


def test_photo_limits_and_empty_notes_are_refused_and_leave_nothing(api: Any, settings: Any) -> None:
    settings.UPLOAD_MAX_BYTES = 20 * 1024
    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="repair")
    api.as_(member("field_technician"))
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"\0" * (settings.UPLOAD_MAX_BYTES + 1), "image/jpeg")
    fake = SimpleUploadedFile("x.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")
    url = f"{TASKS}/{task.id}/notes"
    assert code(api.post(url, {"photo": big}, format="multipart")) == (413, "upload_too_large")
    assert code(api.post(url, {"photo": fake}, format="multipart")) == (415, "upload_type_unsupported")
    assert code(api.post(url, {"text": "  "}, format="json")) == (422, "ops_task_note_empty")
    assert code(api.post(f"{TASKS}/{uuid.uuid4()}/notes", {"text": "x"}, format="json")) == (
        404, "ops_task_not_found")
    assert not OpsTaskNote.objects.exists()


# --- closing puts the vehicle back --------------------------------------------------------------------------------

def _close(api: Any, task: OpsTask, outcome: str = "done", note: str = "") -> Any:
    return api.post(f"{TASKS}/{task.id}/close", {"outcome": outcome, "note": note}, format="json")


def test_an_inspect_task_done_puts_a_vehicle_in_maintenance_back_in_service(api: Any) -> None:
    vehicle = in_maintenance(battery_pct=80)
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    tech = member("field_technician")
    r = _close(api.as_(tech), task, note="all fine")
    assert (r.status_code, r.json()["state"], r.json()["outcome"], r.json()["vehicle_status"]) == (
        200, "done", "all fine", "available")
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    event = VehicleEvent.objects.filter(vehicle=vehicle).latest("timestamp")
    assert (event.status, event.actor) == (Status.AVAILABLE, tech)


def test_a_repaired_vehicle_with_a_low_battery_goes_to_low_battery_with_a_swap_task(api: Any) -> None:
    vehicle = in_maintenance(battery_pct=5)
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="repair")
    assert _close(api.as_(member("field_technician")), task).json()["vehicle_status"] == "low_battery"
    assert OpsTask.objects.filter(vehicle=vehicle, kind="swap_battery", state="open").count() == 1


def test_a_battery_swap_done_makes_a_low_battery_vehicle_available(api: Any) -> None:
    vehicle = VehicleFactory.create(status=Status.LOW_BATTERY, battery_pct=4)
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery")
    assert _close(api.as_(member("field_technician")), task).json()["vehicle_status"] == "available"
    assert VehicleEvent.objects.filter(vehicle=vehicle).latest("timestamp").event_types == ["battery_charged"]


def test_another_open_task_keeps_the_vehicle_off_the_street(api: Any) -> None:
    vehicle = in_maintenance()
    inspect = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    repair = services.ops_task_open(vehicle_id=vehicle.id, kind="repair")
    rebalance = services.ops_task_open(vehicle_id=vehicle.id, kind="rebalance")  # does not hold it
    api.as_(member("field_technician"))
    assert _close(api, inspect).json()["vehicle_status"] == "maintenance"
    assert _close(api, rebalance).json()["vehicle_status"] == "maintenance"
    assert _close(api, repair).json()["vehicle_status"] == "available"


@pytest.mark.parametrize("outcome", ["not_done", "cancelled"])
def test_a_task_not_done_or_cancelled_leaves_the_vehicle_where_it_is(api: Any, outcome: str) -> None:
    vehicle = in_maintenance()
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    api.as_(member("field_technician"))
    if outcome == "not_done":
        assert code(_close(api, task, "not_done")) == (400, "validation_error")  # a reason is required
    r = _close(api, task, outcome, note="vehicle not found at its position")
    assert (r.json()["state"], r.json()["vehicle_status"]) == (outcome, "maintenance")


def test_closing_never_moves_a_vehicle_that_is_not_waiting_for_this_task(api: Any) -> None:
    on_trip = VehicleFactory.create(status=Status.ON_TRIP)
    inspect = services.ops_task_open(vehicle_id=on_trip.id, kind="inspect")
    workshop = VehicleFactory.create(available=False)
    swap = services.ops_task_open(vehicle_id=workshop.id, kind="swap_battery")
    api.as_(member("field_technician"))
    assert _close(api, inspect).json()["vehicle_status"] == "on_trip"
    assert _close(api, swap).json()["vehicle_status"] == "in_workshop"


def test_the_system_closing_a_task_does_not_move_the_vehicle() -> None:
    vehicle = in_maintenance()
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    services.ops_task_close(task_id=task.id)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE


# --- admin --------------------------------------------------------------------------------------------------------

def test_a_technician_cannot_change_a_vehicles_code_or_imei_in_the_admin() -> None:
    vehicle = VehicleFactory.create(code="BER001", imei="350000000000001")
    form = {"code": "HACK01", "imei": "999999999999999", "vehicle_type": str(vehicle.vehicle_type_id),
            "city": str(vehicle.city_id), "flags": "",
            **{f"{prefix}-{key}": value for prefix in ("commands", "events")
               for key, value in (("TOTAL_FORMS", "0"), ("INITIAL_FORMS", "0"))}}
    browser = Client()
    browser.force_login(member("field_technician"))
    url = f"/admin/fleet/vehicle/{vehicle.id}/change/"
    page = browser.get(url).content.decode()
    assert 'name="code"' not in page and 'name="imei"' not in page and "BER001" in page
    browser.post(url, form)
    vehicle.refresh_from_db()
    assert (vehicle.code, vehicle.imei) == ("BER001", "350000000000001")
    browser.force_login(member("fleet_manager"))
    assert 'name="code"' in browser.get(url).content.decode()


def test_a_task_is_opened_from_the_vehicle_admin_and_support_cannot(client: Any) -> None:
    vehicle = VehicleFactory.create()
    client.force_login(member("support_agent"))
    client.post("/admin/fleet/vehicle/", {"action": "open_task_repair", "_selected_action": [str(vehicle.id)]})
    assert not OpsTask.objects.exists()
    client.force_login(member("field_technician"))
    r = client.post("/admin/fleet/vehicle/", {"action": "open_task_repair", "_selected_action": [str(vehicle.id)]},
                    follow=True)
    assert "open: 1 vehicle(s)." in r.content.decode()
    task = OpsTask.objects.get()
    assert (task.vehicle_id, task.kind, task.priority) == (vehicle.id, "repair", 2)
    services.ops_task_note_add(task_id=task.id, author=member("field_technician"), text="wheel bent", photo=jpeg())
    page = client.get(f"/admin/fleet/opstask/{task.id}/change/").content.decode()
    assert "wheel bent" in page and "open photo" in page


def test_staff_who_work_tasks_reprioritise_an_open_one_and_support_cannot(api: Any) -> None:
    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="rebalance")
    api.as_(member("support_agent"))  # reads tasks, does not work on them
    r = api.patch(f"{TASKS}/{task.id}", {"priority": 1})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    api.as_(member("fleet_manager"))
    r = api.patch(f"{TASKS}/{task.id}", {"priority": 1})
    assert (r.status_code, r.json()["priority"]) == (200, 1)
    task.refresh_from_db()
    assert task.priority == 1
    r = api.patch(f"{TASKS}/{task.id}", {"priority": 9})
    assert r.status_code == 400
    services.ops_task_close(task_id=task.id, outcome="cancelled")
    r = api.patch(f"{TASKS}/{task.id}", {"priority": 2})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ops_task_closed")
    r = api.patch(f"{TASKS}/{uuid.uuid4()}", {"priority": 2})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "ops_task_not_found")
