"""Condition alerts a telemetry batch opens and resolves: moving without a trip, battery low, comms lost (resolved),
outside the operating area; the beat sweep for what no reading announces. Real PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState, OpsAlert, OpsTask, Vehicle
from fleet.services import alert_sweep
from fleet.states import Status
from tests.telemetry import test_reactions as base
from tests.telemetry.test_reactions import OUTSIDE, parked, reading, riding, run

pytestmark = pytest.mark.django_db
# The fixtures of the reactions tests: a city with an operating area, slow and no-ride zones; recording edges.
city, scooter, pushes, _edges = base.city, base.scooter, base.pushes, base._edges

FAR_OUTSIDE = (51.5, 12.5)  # lat, lon: south-west of the operating area (13-14 E, 52-53 N)


def alerts(kind: str) -> list[OpsAlert]:
    return list(OpsAlert.objects.filter(kind=kind).order_by("opened_at"))


# --- unauthorised movement --------------------------------------------------------------------------------------

def test_five_vehicles_at_15_to_21_kmh_without_a_ride_raise_unauthorised_movement(
    city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicles = [parked(city, scooter) for _ in range(5)]
    batch = [reading(v, 1, OUTSIDE, speed_kph=15 + i * 1.5) for i, v in enumerate(vehicles)]
    counters = run(django_capture_on_commit_callbacks, batch, *vehicles)
    found = alerts("unauthorised_movement")
    assert counters["alerts_opened"] == 5 and {a.vehicle_id for a in found} == {v.id for v in vehicles}
    assert {a.severity for a in found} == {"critical"}
    # Still moving in the next batch: the same five alerts (de-duplicated), their condition seen again.
    batch = [reading(v, 2, OUTSIDE, speed_kph=18) for v in vehicles]
    counters = run(django_capture_on_commit_callbacks, batch, *vehicles)
    assert counters.get("alerts_opened", 0) == 0 and OpsAlert.objects.count() == 5
    assert all(a.condition_seen_at is not None for a in alerts("unauthorised_movement"))


def test_a_position_moving_tens_of_metres_without_speed_raises_it_and_gps_jitter_does_not(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    pushed, jitter = parked(city, scooter), parked(city, scooter)
    moved = (OUTSIDE[0] + 0.0008, OUTSIDE[1])  # 89 m north
    wobble = (OUTSIDE[0] + 0.0002, OUTSIDE[1])  # 22 m
    run(django_capture_on_commit_callbacks,
        [reading(pushed, 1, moved, speed_kph=0), reading(jitter, 1, wobble, speed_kph=0)], pushed, jitter)
    assert [a.vehicle_id for a in alerts("unauthorised_movement")] == [pushed.id]
    assert alerts("unauthorised_movement")[0].data["distance_m"] == 89


def test_vehicles_on_a_trip_or_moved_by_ops_raise_nothing(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    on_trip, _ = riding(city, scooter, rider)
    van = parked(city, scooter, status=Status.REBALANCING)
    run(django_capture_on_commit_callbacks,
        [reading(on_trip, 1, OUTSIDE, speed_kph=20), reading(van, 1, OUTSIDE, speed_kph=40)], on_trip, van)
    assert alerts("unauthorised_movement") == []


def test_movement_resolves_by_the_sweep_when_it_stops_or_a_ride_starts(
    city: Any, scooter: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ALERT_MOVEMENT_CLEAR_S = 300
    stopped, rented, silent = (parked(city, scooter) for _ in range(3))
    run(django_capture_on_commit_callbacks, [reading(v, 1, OUTSIDE, speed_kph=17) for v in (stopped, rented, silent)],
        stopped, rented, silent)
    ten_min_ago = timezone.now() - timedelta(minutes=10)
    OpsAlert.objects.update(condition_seen_at=ten_min_ago)
    Vehicle.objects.filter(id=stopped.id).update(last_seen_at=timezone.now())  # kept reporting, standing still
    Vehicle.objects.filter(id=silent.id).update(last_seen_at=ten_min_ago - timedelta(seconds=1))  # went quiet
    Vehicle.objects.filter(id=rented.id).update(last_seen_at=ten_min_ago, trip_id=uuid.uuid4())
    assert alert_sweep.ops_alerts_sweep()["alerts_resolved"] == 2
    resolved = {a.vehicle_id: a for a in alerts("unauthorised_movement") if a.resolved_at is not None}
    assert set(resolved) == {stopped.id, rented.id}  # the silent one (carried off?) stays open
    assert resolved[stopped.id].resolution == "movement stopped" and resolved[rented.id].resolution == "a ride started"
    assert all(a.resolved_by_system and a.resolved_by is None for a in resolved.values())


# --- battery ----------------------------------------------------------------------------------------------------

def test_battery_low_opens_on_crossing_and_resolves_when_charged_or_swapped(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, battery_pct=30)
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, battery_pct=9)], vehicle)
    (alert,) = alerts("battery_low")
    assert (alert.severity, alert.data["battery_pct"]) == ("info", 9)
    run(django_capture_on_commit_callbacks, [reading(vehicle, 2, battery_pct=20)], vehicle)  # not charged yet
    alert.refresh_from_db()
    assert alert.resolved_at is None
    run(django_capture_on_commit_callbacks, [reading(vehicle, 3, battery_pct=100)], vehicle)  # swapped
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.resolved_by_system
    assert alert.resolution == "battery charged or swapped"


# --- comms lost -------------------------------------------------------------------------------------------------

def test_comms_lost_opens_in_the_sweep_and_resolves_when_the_vehicle_speaks(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, status=Status.NON_CONTACTABLE, status_before_loss=Status.AVAILABLE)
    assert alert_sweep.ops_alerts_sweep()["alerts_opened"] == 1
    assert alert_sweep.ops_alerts_sweep()["alerts_opened"] == 0  # de-duplicated
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, OUTSIDE)], vehicle)
    (alert,) = alerts("comms_lost")
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    assert alert.resolved_at is not None and alert.resolved_by_system and alert.resolution == "comms restored"


def test_the_sweep_resolves_comms_lost_a_reaction_missed(city: Any, scooter: Any) -> None:
    vehicle = parked(city, scooter, status=Status.MISSING)
    alert_sweep.ops_alerts_sweep()
    Vehicle.objects.filter(id=vehicle.id).update(status=Status.AVAILABLE)
    assert alert_sweep.ops_alerts_sweep()["alerts_resolved"] == 1
    assert alerts("comms_lost")[0].resolution == "comms restored"


# --- operating area ---------------------------------------------------------------------------------------------

def test_leaving_the_operating_area_opens_it_and_coming_back_resolves_it(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, _ = riding(city, scooter, rider)
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, FAR_OUTSIDE)], vehicle)
    (alert,) = alerts("outside_operating_area")
    assert alert.severity == "info" and "on a trip" in alert.message  # riders may pass through
    run(django_capture_on_commit_callbacks, [reading(vehicle, 2, OUTSIDE)], vehicle)
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.resolution == "back inside the operating area"


# --- speed limit not applied ------------------------------------------------------------------------------------

def test_an_acknowledged_speed_limit_resolves_speed_limit_not_applied(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter)
    alert = fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="speed_limit_not_applied")
    command = fleet_services.command_queue(vehicle_id=vehicle.id, kind=CommandKind.SET_SPEED_LIMIT,
                                           params={"max_speed_kph": 12})
    Command.objects.filter(id=command.id).update(state=CommandState.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        fleet_services.command_ack(command_id=command.id, ok=True)
    alert.refresh_from_db()
    assert alert.resolved_at is not None and alert.resolved_by_system
    assert alert.resolution == "speed limit 12 km/h acknowledged"


# --- automatic swap tasks ---------------------------------------------------------------------------------------

def test_every_low_battery_vehicle_gets_exactly_one_open_swap_task(city: Any, scooter: Any) -> None:
    """Issue 22: vehicles already in low_battery (set at trip end, or whose earlier task was closed) got none."""
    low = [parked(city, scooter, status=Status.LOW_BATTERY, battery_pct=8) for _ in range(17)]
    done = fleet_services.ops_task_open(vehicle_id=low[0].id, kind="swap_battery")
    fleet_services.ops_task_close(task_id=done.id)  # closed, but the vehicle is still low
    assert alert_sweep.ops_alerts_sweep()["tasks_opened"] == 17
    assert alert_sweep.ops_alerts_sweep()["tasks_opened"] == 0
    open_ = OpsTask.objects.filter(kind="swap_battery", state__in=["open", "assigned"])
    assert sorted(open_.values_list("vehicle_id", flat=True)) == sorted(v.id for v in low)


def test_a_vehicle_charged_again_has_its_swap_task_closed_by_the_sweep(city: Any, scooter: Any) -> None:
    vehicle = parked(city, scooter, status=Status.AVAILABLE, battery_pct=95)
    still_low = parked(city, scooter, status=Status.LOW_BATTERY, battery_pct=95)  # not released yet: keeps it
    task = fleet_services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery")
    kept = fleet_services.ops_task_open(vehicle_id=still_low.id, kind="swap_battery")
    assert alert_sweep.ops_alerts_sweep()["tasks_closed"] == 1
    task.refresh_from_db()
    kept.refresh_from_db()
    assert (task.state, task.closed_by) == ("done", None) and kept.state == "open"


def test_idle_vehicles_and_vehicles_parked_outside_get_one_rebalance_task(
    city: Any, scooter: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.FLEET_IDLE_REBALANCE_H = 48
    idle = parked(city, scooter, status=Status.AVAILABLE)
    busy = parked(city, scooter, status=Status.AVAILABLE)
    Vehicle.objects.filter(id=idle.id).update(last_event_at=timezone.now() - timedelta(hours=49))
    Vehicle.objects.filter(id=busy.id).update(last_event_at=timezone.now() - timedelta(hours=2))
    outside = parked(city, scooter, status=Status.AVAILABLE)
    Vehicle.objects.filter(id=outside.id).update(last_event_at=timezone.now())
    run(django_capture_on_commit_callbacks, [reading(outside, 1, FAR_OUTSIDE)], outside)  # pushed out of the area
    assert alerts("outside_operating_area")[0].vehicle_id == outside.id
    assert alert_sweep.ops_alerts_sweep()["tasks_opened"] == 2
    assert alert_sweep.ops_alerts_sweep()["tasks_opened"] == 0
    tasks = {t.vehicle_id: t.reason for t in OpsTask.objects.filter(kind="rebalance")}
    assert set(tasks) == {idle.id, outside.id}
    assert tasks[idle.id].startswith("idle since") and tasks[outside.id] == "parked outside the operating area"
