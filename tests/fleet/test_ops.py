"""Ops alerts and tasks: open idempotently (one open per vehicle and kind, also under concurrency), resolve,
assign, close; the staff API with role permissions; the admin actions."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections, connection

from accounts.services.roles import roles_sync
from fleet import errors, services
from fleet.models import OpsAlert, OpsTask
from fleet.models.vehicles import Flag
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def member(role: str) -> Any:
    roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_opening_twice_keeps_one_open_and_a_resolved_alert_lets_a_new_one_open() -> None:
    vehicle = VehicleFactory.create()
    first = services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper", severity="critical", message="lid opened")
    again = services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper")
    assert again.id == first.id and OpsAlert.objects.count() == 1
    services.ops_alert_resolve(alert_id=first.id)
    assert services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper").id != first.id
    assert OpsAlert.objects.filter(resolved_at__isnull=True).count() == 1


def test_batch_open_returns_only_what_it_opened_and_tolerates_repeats_in_one_call() -> None:
    a, b = VehicleFactory.create(), VehicleFactory.create()
    spec = services.TaskSpec(a.id, a.city_id, "swap_battery", "battery 9 %")
    opened = services.ops_tasks_open(tasks=[spec, spec, services.TaskSpec(b.id, b.city_id, "inspect")])
    assert sorted(t.kind for t in opened) == ["inspect", "swap_battery"]
    assert services.ops_tasks_open(tasks=[spec]) == []
    assert OpsTask.objects.get(vehicle=a).reason == "battery 9 %"


def test_resolving_a_tipped_over_alert_unflags_the_vehicle_and_is_idempotent(staff: Any) -> None:
    vehicle = VehicleFactory.create()
    services.vehicles_flag(vehicle_ids=[vehicle.id], flag=Flag.TIPPED_OVER)
    assert services.vehicles_flag(vehicle_ids=[vehicle.id], flag=Flag.TIPPED_OVER) == 0  # already flagged
    alert = services.ops_alert_open(vehicle_id=vehicle.id, kind="tipped_over")
    resolved = services.ops_alert_resolve(alert_id=alert.id, actor=staff)
    assert (resolved.resolved_by, resolved.resolved_at is not None) == (staff, True)
    vehicle.refresh_from_db()
    assert vehicle.flags == []
    assert services.ops_alert_resolve(alert_id=alert.id).resolved_at == resolved.resolved_at


def test_task_lifecycle_assign_close_and_closed_tasks_refuse_assignment(staff: Any) -> None:
    vehicle = VehicleFactory.create()
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="retrieve", reason="outside the area")
    task = services.ops_task_assign(task_id=task.id, assignee=staff)
    assert (task.state, task.assignee) == ("assigned", staff)
    closed = services.ops_task_close(task_id=task.id, actor=staff)
    assert (closed.state, closed.closed_by) == ("done", staff)
    assert services.ops_task_close(task_id=task.id, outcome="cancelled").state == "done"  # closing again: no change
    with pytest.raises(errors.OpsTaskClosed):
        services.ops_task_assign(task_id=task.id, assignee=staff)
    assert services.ops_task_open(vehicle_id=vehicle.id, kind="retrieve").id != task.id


@pytest.mark.django_db(transaction=True)
def test_two_workers_opening_the_same_task_at_once_open_one() -> None:
    vehicle = VehicleFactory.create()
    barrier, results = threading.Barrier(4), []

    def open_task() -> None:
        try:
            barrier.wait()
            results.append(services.ops_task_open(vehicle_id=vehicle.id, kind="inspect").id)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=open_task) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(set(results)) == 1
    assert OpsTask.objects.filter(vehicle=vehicle).count() == 1


# --- API ----------------------------------------------------------------------------------------------------------

ALERTS, TASKS = "/api/v1/ops/alerts", "/api/v1/ops/tasks"


def test_alert_list_filters_and_resolve(api: Any, django_assert_max_num_queries: Any) -> None:
    tech = member("field_technician")
    berlin, hamburg = CityFactory.create(slug="berlin"), CityFactory.create(slug="hamburg")
    here = [VehicleFactory.create(city=berlin) for _ in range(3)]
    there = VehicleFactory.create(city=hamburg)
    alerts = [services.ops_alert_open(vehicle_id=v.id, kind="tamper") for v in here]
    services.ops_alert_open(vehicle_id=there.id, kind="tipped_over")
    services.ops_alert_resolve(alert_id=alerts[0].id)
    api.as_(tech)
    with django_assert_max_num_queries(6):  # auth user, permissions (groups), count-free cursor page
        r = api.get(ALERTS, {"city": str(berlin.id)})
    assert r.status_code == 200
    assert {a["id"] for a in r.json()["results"]} == {str(alerts[1].id), str(alerts[2].id)}
    assert r.json()["results"][0]["vehicle_code"] in {v.code for v in here}
    assert len(api.get(ALERTS, {"state": "all"}).json()["results"]) == 4
    assert [a["kind"] for a in api.get(ALERTS, {"kind": "tipped_over"}).json()["results"]] == ["tipped_over"]
    assert code(api.get(ALERTS, {"kind": "fire"})) == (400, "validation_error")

    r = api.post(f"{ALERTS}/{alerts[1].id}/resolve")
    assert r.status_code == 200 and r.json()["resolved_by"] == str(tech.id)
    assert api.post(f"{ALERTS}/{alerts[1].id}/resolve").status_code == 200
    assert code(api.post(f"{ALERTS}/{uuid.uuid4()}/resolve")) == (404, "ops_alert_not_found")


def test_task_list_assign_and_close(api: Any) -> None:
    tech = member("field_technician")
    a, b = VehicleFactory.create(), VehicleFactory.create()
    swap = services.ops_task_open(vehicle_id=a.id, kind="swap_battery")
    inspect = services.ops_task_open(vehicle_id=b.id, kind="inspect")
    api.as_(tech)
    assert {t["id"] for t in api.get(TASKS).json()["results"]} == {str(swap.id), str(inspect.id)}
    r = api.post(f"{TASKS}/{swap.id}/assign")
    assert (r.status_code, r.json()["state"], r.json()["assignee"]) == (200, "assigned", str(tech.id))
    assert [t["id"] for t in api.get(TASKS, {"mine": "true"}).json()["results"]] == [str(swap.id)]
    r = api.post(f"{TASKS}/{inspect.id}/close", {"outcome": "cancelled"}, format="json")
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    assert code(api.post(f"{TASKS}/{inspect.id}/assign")) == (409, "ops_task_closed")
    assert code(api.post(f"{TASKS}/{swap.id}/close", {"outcome": "open"}, format="json")) == (400, "validation_error")
    assert [t["id"] for t in api.get(TASKS, {"state": "cancelled"}).json()["results"]] == [str(inspect.id)]
    assert code(api.post(f"{TASKS}/{uuid.uuid4()}/close")) == (404, "ops_task_not_found")


@pytest.mark.parametrize(("role", "can_read", "can_act"), [
    ("support_agent", True, False), ("field_technician", True, True), ("fleet_manager", True, True),
    ("finance", False, False),
])
def test_ops_api_follows_the_staff_roles(api: Any, role: str, can_read: bool, can_act: bool) -> None:
    vehicle = VehicleFactory.create()
    alert = services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper")
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    api.as_(member(role))
    assert api.get(ALERTS).status_code == api.get(TASKS).status_code == (200 if can_read else 403)
    assert api.post(f"{ALERTS}/{alert.id}/resolve").status_code == (200 if can_act else 403)
    assert api.post(f"{TASKS}/{task.id}/close").status_code == (200 if can_act else 403)


def test_riders_and_anonymous_callers_are_refused(api: Any, rider: Any) -> None:
    assert code(api.as_(rider).get(ALERTS)) == (403, "permission_denied")
    assert code(api.anonymous().get(TASKS)) == (401, "not_authenticated")


# --- admin --------------------------------------------------------------------------------------------------------

def test_admin_lists_and_actions(client: Any, staff: Any) -> None:
    vehicle = VehicleFactory.create()
    alert = services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper")
    task = services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery")
    client.force_login(staff)
    for url in ("/admin/fleet/opsalert/?state=open", f"/admin/fleet/opsalert/?city__id__exact={vehicle.city_id}",
                "/admin/fleet/opstask/?state__exact=open&kind__exact=swap_battery"):
        assert client.get(url).status_code == 200
    client.post("/admin/fleet/opstask/", {"action": "assign_to_me", "_selected_action": [str(task.id)]})
    task.refresh_from_db()
    assert (task.state, task.assignee) == ("assigned", staff)
    page = client.post("/admin/fleet/opstask/", {"action": "priority_urgent", "_selected_action": [str(task.id)]},
                       follow=True).content.decode()
    task.refresh_from_db()
    assert task.priority == 1 and "Priority urgent: 1." in page
    client.post("/admin/fleet/opstask/", {"action": "close_done", "_selected_action": [str(task.id)]})
    client.post("/admin/fleet/opsalert/", {"action": "resolve", "_selected_action": [str(alert.id)]})
    task.refresh_from_db()
    alert.refresh_from_db()
    assert (task.state, alert.resolved_by) == ("done", staff)


def test_a_rider_problem_report_opens_one_inspect_task(rider: Any) -> None:
    from django.utils import timezone

    from rides import services as rides_services
    from rides.models import Ride, RideState

    vehicle = VehicleFactory.create()
    ride = Ride.objects.create(rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=vehicle.city,
                               state=RideState.ENDED, tariff={}, currency="EUR", ended_at=timezone.now())
    for category in ("brakes", "lock"):
        rides_services.ride_problem_report(rider=rider, ride_id=ride.id, category=category)
    task = OpsTask.objects.get(vehicle=vehicle)
    assert (task.kind, task.state, task.reason) == ("inspect", "open", "rider reported: brakes")


def test_only_staff_who_work_tasks_may_reprioritise_in_the_admin(client: Any) -> None:
    from tests.fleet.test_permissions import member

    task = services.ops_task_open(vehicle_id=VehicleFactory.create().id, kind="rebalance")
    client.force_login(member("support_agent"))
    assert "priority_urgent" not in client.get("/admin/fleet/opstask/").content.decode()
    client.post("/admin/fleet/opstask/", {"action": "priority_urgent", "_selected_action": [str(task.id)]})
    task.refresh_from_db()
    assert task.priority == 4
    client.force_login(member("field_technician"))
    assert "priority_urgent" in client.get("/admin/fleet/opstask/").content.decode()
