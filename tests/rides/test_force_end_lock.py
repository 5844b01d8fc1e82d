"""A ride ended without a confirmed lock (ops force-end, auto-end) must not leave the vehicle open and rentable.

The vehicle gets a fresh lock (a key of its own), stays out of service (MDS non_operational) until it confirms a
lock (an ack, also a late one, or telemetry saying locked), and ops get one alert and one task. The simulated
gateway is silent here (tests/rides/conftest.py): a vehicle answers only when a test acks for it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import LedgerTransaction, RideBilling
from fleet import services as fleet_services
from fleet.models import Command, CommandState, OpsAlert, OpsTask, Vehicle, VehicleEvent
from fleet.states import Status
from rides import services
from rides.models import Ride, RideState
from telemetry.reactions import react
from tests.rides.conftest import START_URL, ack, add_card, started
from tests.telemetry.test_reactions import before_of, reading

pytestmark = pytest.mark.django_db
NEARBY = "/api/v1/vehicles/nearby"


def _force_end(api: Any, staff: Any, ride: Ride) -> Any:
    return api.as_(staff).post(f"/api/v1/rides/{ride.id}/force-end", {"reason": "vehicle ignores the lock"},
                               format="json")


def _stuck_in_locking(api: Any, rider: Any, vehicle: Any, capture: Any) -> Ride:
    """Started and unlocked; the rider ends, the lock reaches the vehicle, which never answers."""
    ride = started(api, rider, vehicle.code, capture)
    assert api.as_(rider).post(f"/api/v1/rides/{ride.id}/end", format="multipart").status_code == 202
    ride.refresh_from_db()
    assert ride.lock_command_id is not None
    fleet_services.command_deliver(command_id=ride.lock_command_id)
    vehicle.refresh_from_db()
    assert (ride.state, vehicle.locked) == (RideState.LOCKING, False)
    return ride


def _force_lock(ride: Ride) -> Command:
    return Command.objects.get(idempotency_key=f"ride:{ride.id}:force-lock")


def _listed_nearby(api: Any, rider: Any, vehicle: Vehicle) -> bool:
    r = api.as_(rider).get(NEARBY, {"lat": vehicle.lat, "lon": vehicle.lon})
    assert r.status_code == 200, r.json()
    body = r.json()
    items = body["results"] if isinstance(body, dict) and "results" in body else body
    return vehicle.code in {item["code"] for item in items}


def _billing_snapshot(ride: Ride) -> tuple[Any, ...]:
    billing = RideBilling.objects.get(ride_id=ride.id)
    return (billing.status, billing.fare_total, billing.paid_wallet, billing.paid_card, billing.debt,
            LedgerTransaction.objects.filter(ride_id=ride.id).count())


def _open_alerts(vehicle: Vehicle) -> list[OpsAlert]:
    return list(OpsAlert.objects.filter(vehicle=vehicle, kind="lock_unconfirmed", resolved_at__isnull=True))


def _open_tasks(vehicle: Vehicle) -> list[OpsTask]:
    return list(OpsTask.objects.filter(vehicle=vehicle, kind="secure", state__in=["open", "assigned"]))


def test_a_vehicle_that_never_answers_stays_out_of_service_with_an_alert_and_a_task(
        api, card_rider, other_rider, vehicle, staff_user, django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    r = _force_end(api, staff_user, ride)
    assert (r.status_code, r.json()["state"], r.json()["end_reason"]) == (200, "ended", "ops")

    force_lock = _force_lock(ride)  # a fresh lock, not the rider's unanswered one
    assert force_lock.id != ride.lock_command_id and force_lock.kind == "lock" and force_lock.state == "queued"
    assert list(Command.objects.filter(vehicle=vehicle).order_by("created_at").values_list("kind", flat=True)) == [
        "unlock", "lock", "lock"]
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.mds_state, vehicle.trip_id, vehicle.locked) == (
        Status.MAINTENANCE, "non_operational", None, False)
    event = VehicleEvent.objects.filter(vehicle=vehicle).latest("recorded_at")
    assert (event.event_types, event.trip_id, event.actor_kind) == (["trip_end", "maintenance"], ride.id, "ops")
    [alert], [task] = _open_alerts(vehicle), _open_tasks(vehicle)
    assert alert.severity == "warning" and alert.data["command_id"] == str(force_lock.id)
    assert task.kind == "secure" and task.assignee is None

    # not rentable: not listed nearby, a start on it is refused
    assert not _listed_nearby(api, other_rider, vehicle)
    add_card(other_rider)
    r = api.as_(other_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (409, "vehicle_unavailable")

    # force-end again: refused, nothing more sent or opened
    r = _force_end(api, staff_user, ride)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "ride_state_conflict")
    assert Command.objects.filter(vehicle=vehicle).count() == 3
    assert OpsAlert.objects.filter(vehicle=vehicle).count() == 1 and OpsTask.objects.filter(vehicle=vehicle).count() == 1

    # the fresh lock is delivered and times out: still held, alert and task still open
    fleet_services.command_deliver(command_id=force_lock.id)
    with django_capture_on_commit_callbacks(execute=True):
        fleet_services.commands_expire_overdue(now=timezone.now() + dt.timedelta(minutes=10))
    force_lock.refresh_from_db()
    vehicle.refresh_from_db()
    assert force_lock.state == CommandState.TIMED_OUT and vehicle.status == Status.MAINTENANCE
    assert len(_open_alerts(vehicle)) == 1 and len(_open_tasks(vehicle)) == 1
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED


@pytest.mark.parametrize("answer", ["force_lock", "force_lock_after_timeout", "riders_lock"])
def test_a_late_lock_confirmation_makes_the_vehicle_rentable_again(
        api, card_rider, other_rider, vehicle, staff_user, django_capture_on_commit_callbacks, answer):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    assert _force_end(api, staff_user, ride).status_code == 200
    charged = _billing_snapshot(ride)
    force_lock = _force_lock(ride)
    if answer == "force_lock":
        ack(force_lock.id, django_capture_on_commit_callbacks)
    elif answer == "force_lock_after_timeout":  # the answer comes after the command gave up
        fleet_services.command_deliver(command_id=force_lock.id)
        fleet_services.commands_expire_overdue(now=timezone.now() + dt.timedelta(minutes=10))
        with django_capture_on_commit_callbacks(execute=True):
            fleet_services.command_ack(command_id=force_lock.id, ok=True)
    else:  # the rider's own lock, answered at last
        with django_capture_on_commit_callbacks(execute=True):
            fleet_services.command_ack(command_id=ride.lock_command_id, ok=True)

    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.locked) == (Status.AVAILABLE, True)
    assert VehicleEvent.objects.filter(vehicle=vehicle).latest("recorded_at").event_types == ["maintenance"]
    assert not _open_alerts(vehicle) and OpsAlert.objects.get(vehicle=vehicle).resolved_by is None
    task = OpsTask.objects.get(vehicle=vehicle, kind="secure")
    assert (task.state, task.closed_by) == ("done", None)
    assert _billing_snapshot(ride) == charged  # the rider's charge is untouched by the later answer
    ride.refresh_from_db()
    assert ride.state == RideState.ENDED
    assert _listed_nearby(api, other_rider, vehicle)
    add_card(other_rider)
    assert api.as_(other_rider).post(START_URL, {"code": vehicle.code}, format="json").status_code == 201


def test_a_refused_lock_keeps_the_hold(api, card_rider, vehicle, staff_user, django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _force_end(api, staff_user, ride)
    ack(_force_lock(ride).id, django_capture_on_commit_callbacks, ok=False)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE and len(_open_alerts(vehicle)) == 1


def test_telemetry_saying_locked_releases_the_hold(api, card_rider, vehicle, staff_user,
                                                   django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _force_end(api, staff_user, ride)
    before = {vehicle.id: before_of(vehicle)}
    unlocked = reading(vehicle, 1, locked=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert "locks_confirmed" not in react(readings=[unlocked], before=before)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE
    locked = reading(vehicle, 2, locked=True)
    with django_capture_on_commit_callbacks(execute=True):
        fleet_services.vehicle_record_reading(vehicle_id=vehicle.id, at=locked.at, locked=True)
        assert react(readings=[locked], before=before)["locks_confirmed"] == 1
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.locked) == (Status.AVAILABLE, True) and not _open_alerts(vehicle)


def test_a_low_battery_vehicle_comes_back_as_low_battery(api, card_rider, vehicle, staff_user,
                                                         django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _force_end(api, staff_user, ride)
    Vehicle.objects.filter(id=vehicle.id).update(battery_pct=5)
    ack(_force_lock(ride).id, django_capture_on_commit_callbacks)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.LOW_BATTERY and not _open_alerts(vehicle)


def test_a_vehicle_ops_put_in_maintenance_meanwhile_stays_there(api, card_rider, vehicle, staff_user,
                                                                django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _force_end(api, staff_user, ride)
    fleet_services.vehicle_set_maintenance(vehicle_id=vehicle.id, actor=staff_user)  # a relabel, for a reason
    ack(_force_lock(ride).id, django_capture_on_commit_callbacks)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MAINTENANCE and not _open_alerts(vehicle)  # locked: the alert is done


def test_a_moving_vehicle_gets_no_lock_and_a_critical_alert(api, card_rider, vehicle, staff_user,
                                                            django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    Vehicle.objects.filter(id=vehicle.id).update(speed_kph=18)
    assert _force_end(api, staff_user, ride).status_code == 200
    assert not Command.objects.filter(idempotency_key=f"ride:{ride.id}:force-lock").exists()
    vehicle.refresh_from_db()
    [alert] = _open_alerts(vehicle)
    assert vehicle.status == Status.MAINTENANCE and alert.severity == "critical" and len(_open_tasks(vehicle)) == 1


def test_auto_end_past_the_maximum_duration_holds_an_unlocked_vehicle(api, card_rider, vehicle,
                                                                      django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    Ride.objects.filter(id=ride.id).update(created_at=timezone.now() - dt.timedelta(hours=13))
    assert services.rides_auto_end() == 1
    ride.refresh_from_db()
    vehicle.refresh_from_db()
    assert (ride.state, ride.end_reason, vehicle.status) == (RideState.ENDED, "auto_max_duration", Status.MAINTENANCE)
    assert _force_lock(ride).state == "queued" and len(_open_alerts(vehicle)) == 1 and len(_open_tasks(vehicle)) == 1
    event = VehicleEvent.objects.filter(vehicle=vehicle).latest("recorded_at")
    assert (event.event_types, event.actor_kind) == (["trip_end", "maintenance"], "system")


def test_auto_end_of_a_paused_ride_whose_lock_was_confirmed_frees_the_vehicle(
        api, card_rider, vehicle, django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    api.as_(card_rider).post(f"/api/v1/rides/{ride.id}/pause")
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    Ride.objects.filter(id=ride.id).update(paused_at=timezone.now() - dt.timedelta(hours=2))
    assert services.rides_auto_end() == 1
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.locked) == (Status.AVAILABLE, True)
    assert not Command.objects.filter(idempotency_key=f"ride:{ride.id}:force-lock").exists()
    assert not OpsAlert.objects.filter(vehicle=vehicle).exists()


def test_the_sweep_of_unanswered_commands_leaves_an_ended_ride_and_its_hold_alone(
        api, card_rider, vehicle, staff_user, django_capture_on_commit_callbacks):
    ride = _stuck_in_locking(api, card_rider, vehicle, django_capture_on_commit_callbacks)
    _force_end(api, staff_user, ride)
    charged = _billing_snapshot(ride)
    later = timezone.now() + dt.timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        fleet_services.commands_expire_overdue(now=later)
        services.rides_sweep_commands(now=later)
        services.rides_charge_pending()
    ride.refresh_from_db()
    vehicle.refresh_from_db()
    assert ride.state == RideState.ENDED and vehicle.status == Status.MAINTENANCE
    assert _billing_snapshot(ride) == charged and len(_open_alerts(vehicle)) == 1
    assert Decimal(charged[1]) > 0
