"""Rebalance tasks from the minute sweep (issue 22): a vehicle parked where no ride may end gets exactly one, like an
idle one or one parked outside the operating area; the sweep closes its own tasks when their condition clears (as
done by the system, with the reason) but only marks a task a technician holds, and never touches one opened by
hand. Real PostgreSQL; the city of the telemetry reaction tests (a no-ride "Park" and a slow "Old town" zone)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import OpsTask, Vehicle
from fleet.services import alert_sweep
from fleet.states import Status
from tests.accounts.factories import UserFactory
from tests.fleet.factories import ZoneFactory, square
from tests.telemetry import test_reactions as base
from tests.telemetry.test_reactions import IN_NO_RIDE, IN_SLOW, OUTSIDE, parked

pytestmark = pytest.mark.django_db
city, scooter, pushes, _edges = base.city, base.scooter, base.pushes, base._edges

IN_NO_PARKING = (52.525, 13.405)  # lat, lon


@pytest.fixture
def no_parking(city: Any) -> Any:
    return ZoneFactory.create(city=city, kind="no_parking", name="Station forecourt", priority=5,
                              geometry=square(13.40, 52.52, 0.01), ride_end_allowed=False)


def rebalance(vehicle: Vehicle) -> list[OpsTask]:
    return list(OpsTask.objects.filter(vehicle=vehicle, kind="rebalance").order_by("created_at"))


def move(vehicle: Vehicle, where: tuple[float, float], **fields: Any) -> None:
    Vehicle.objects.filter(id=vehicle.id).update(lat=where[0], lon=where[1], **fields)


def sent(pushes: list[tuple[str, dict[str, Any]]], group_prefix: str, event: str) -> list[dict[str, Any]]:
    return [m["payload"] for g, m in pushes if g.startswith(group_prefix) and m.get("event") == event]


def test_a_vehicle_parked_where_no_ride_may_end_gets_exactly_one_rebalance_task(
        city: Any, scooter: Any, no_parking: Any, pushes: Any, django_capture_on_commit_callbacks: Any) -> None:
    now = timezone.now()
    in_park = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], last_event_at=now)
    in_forecourt = parked(city, scooter, status=Status.LOW_BATTERY, lat=IN_NO_PARKING[0], lon=IN_NO_PARKING[1],
                          last_event_at=now, battery_pct=9)
    in_slow = parked(city, scooter, lat=IN_SLOW[0], lon=IN_SLOW[1], last_event_at=now)  # rides may end there
    passing = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], status=Status.ON_TRIP, trip_id=uuid.uuid4(),
                     last_event_at=now)
    in_workshop = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], status=Status.IN_WORKSHOP,
                         last_event_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        alert_sweep.ops_alerts_sweep()
    assert alert_sweep.ops_alerts_sweep()["tasks_opened"] == 0  # one, not one per minute

    park, forecourt = rebalance(in_park), rebalance(in_forecourt)
    assert [(t.state, t.condition) for t in park] == [("open", "misparked")]
    assert park[0].reason == "parked in Park (no ride zone): no ride may end there"
    assert [t.condition for t in forecourt] == ["misparked"] and "Station forecourt" in forecourt[0].reason
    assert rebalance(in_slow) == rebalance(passing) == rebalance(in_workshop) == []
    # The fleet map and the technicians' task pages hear of it.
    opened = {p["id"] for p in sent(pushes, f"tasks.{city.id}", "ops_task.opened") if p["kind"] == "rebalance"}
    assert opened == {str(park[0].id), str(forecourt[0].id)}
    assert opened <= {p["id"] for p in sent(pushes, f"fleet.{city.id}", "ops_task.opened")}


def test_the_sweep_closes_its_rebalance_tasks_when_the_condition_clears_with_the_reason(
        city: Any, scooter: Any, pushes: Any, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.FLEET_IDLE_REBALANCE_H = 48
    now = timezone.now()
    moved = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], last_event_at=now)
    ridden = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], last_event_at=now)
    idle = parked(city, scooter, last_event_at=now - timedelta(hours=50))
    still = parked(city, scooter, last_event_at=now - timedelta(hours=50))
    alert_sweep.ops_alerts_sweep()
    assert {t.vehicle_id for t in OpsTask.objects.filter(kind="rebalance", state="open")} == {
        moved.id, ridden.id, idle.id, still.id}

    move(moved, OUTSIDE)  # put where rides may end
    Vehicle.objects.filter(id=ridden.id).update(status=Status.ON_TRIP, trip_id=uuid.uuid4())
    Vehicle.objects.filter(id=idle.id).update(last_event_at=now)  # rented since
    pushes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        counts = alert_sweep.ops_alerts_sweep()
    assert counts["tasks_closed"] == 3

    outcomes = {t.vehicle_id: (t.state, t.closed_by, t.outcome) for t in OpsTask.objects.filter(kind="rebalance")}
    assert outcomes == {
        moved.id: ("done", None, "condition cleared: moved to a place where rides may end"),
        ridden.id: ("done", None, "condition cleared: the vehicle is on a ride"),
        idle.id: ("done", None, "condition cleared: no longer idle (ridden or moved since)"),
        still.id: ("open", None, ""),
    }
    closed = sent(pushes, f"tasks.{city.id}", "ops_task.closed")
    assert sorted(p["code"] for p in closed) == sorted([moved.code, ridden.code, idle.code])
    assert alert_sweep.ops_alerts_sweep()["tasks_closed"] == 0


def test_back_in_the_operating_area_closes_the_outside_task(
        city: Any, scooter: Any, django_capture_on_commit_callbacks: Any) -> None:
    vehicle = parked(city, scooter, last_event_at=timezone.now())
    alert = fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="outside_operating_area")
    alert_sweep.ops_alerts_sweep()
    assert [t.condition for t in rebalance(vehicle)] == ["outside_area"]
    fleet_services.ops_alert_resolve(alert_id=alert.id, reason="back in the operating area")
    alert_sweep.ops_alerts_sweep()
    task = rebalance(vehicle)[0]
    assert (task.state, task.outcome) == ("done", "condition cleared: back in the operating area")


def test_a_task_someone_holds_is_marked_not_closed_and_the_mark_goes_when_the_condition_returns(
        city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any) -> None:
    technician = UserFactory.create(is_staff=True)
    vehicle = parked(city, scooter, lat=IN_NO_RIDE[0], lon=IN_NO_RIDE[1], last_event_at=timezone.now())
    alert_sweep.ops_alerts_sweep()
    task = rebalance(vehicle)[0]
    fleet_services.ops_task_assign(task_id=task.id, assignee=technician)

    move(vehicle, OUTSIDE)
    pushes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        counts = alert_sweep.ops_alerts_sweep()
    assert (counts["tasks_closed"], counts["tasks_marked_cleared"]) == (0, 1)
    task.refresh_from_db()
    assert (task.state, task.assignee_id) == ("assigned", technician.id) and task.condition_cleared_at is not None
    updated = sent(pushes, f"tasks.{city.id}", "ops_task.updated")
    assert [p["condition_cleared_at"] is not None for p in updated] == [True]
    assert alert_sweep.ops_alerts_sweep()["tasks_marked_cleared"] == 0  # marked once

    move(vehicle, IN_NO_RIDE)  # parked back in the park before anyone came
    pushes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        alert_sweep.ops_alerts_sweep()
    task.refresh_from_db()
    assert (task.state, task.condition_cleared_at) == ("assigned", None)
    assert [p["condition_cleared_at"] for p in sent(pushes, f"tasks.{city.id}", "ops_task.updated")] == [None]
    assert len(rebalance(vehicle)) == 1


def test_a_rebalance_task_opened_by_hand_is_never_closed_by_the_sweep(city: Any, scooter: Any) -> None:
    manager = UserFactory.create(is_staff=True)
    vehicle = parked(city, scooter, last_event_at=timezone.now())  # nothing wrong where it is
    task = fleet_services.ops_task_create(vehicle_id=vehicle.id, kind="rebalance", actor=manager,
                                          reason="move two to the concert")
    assert alert_sweep.ops_alerts_sweep()["tasks_closed"] == 0
    task.refresh_from_db()
    assert (task.state, task.condition) == ("open", "")
