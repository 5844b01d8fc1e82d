"""Liveness sweep: silent parked vehicles -> non_contactable (comms_lost) -> missing past the city's limit."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet.models import VehicleEvent
from fleet.states import Status
from telemetry import liveness, tasks
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.TELEMETRY_COMMS_LOST_S = 600
    settings.TELEMETRY_MISSING_AFTER_S = 86_400
    settings.TELEMETRY_MISSING_AFTER_S_BY_CITY = []


def _silent(seconds: float, **fields: Any) -> Any:
    return VehicleFactory.create(last_seen_at=timezone.now() - timedelta(seconds=seconds), **fields)


def _events(vehicle: Any) -> list[list[str]]:
    return [e.event_types for e in VehicleEvent.objects.filter(vehicle=vehicle).order_by("recorded_at")]


def test_silent_vehicle_becomes_non_contactable_through_the_event_log() -> None:
    quiet, talking, never = _silent(700), _silent(30), VehicleFactory.create(last_seen_at=None)
    assert tasks.liveness_sweep() == {"missing": 0, "comms_lost": 1}
    for vehicle in (quiet, talking, never):
        vehicle.refresh_from_db()
    assert (quiet.status, quiet.status_before_loss) == (Status.NON_CONTACTABLE, Status.AVAILABLE)
    assert _events(quiet) == [["comms_lost"]]
    assert (talking.status, never.status) == (Status.AVAILABLE, Status.AVAILABLE)
    assert _events(talking) == _events(never) == []


def test_second_run_changes_nothing() -> None:
    vehicle = _silent(700)
    liveness.liveness_sweep()
    assert liveness.liveness_sweep() == {"missing": 0, "comms_lost": 0}
    assert _events(vehicle) == [["comms_lost"]]


def test_non_contactable_past_the_limit_goes_missing_and_keeps_the_status_to_restore() -> None:
    vehicle = _silent(700, status=Status.LOW_BATTERY)
    liveness.liveness_sweep()
    liveness.liveness_sweep(now=timezone.now() + timedelta(days=1))
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.status_before_loss) == (Status.MISSING, Status.LOW_BATTERY)
    assert _events(vehicle) == [["comms_lost"], ["not_located"]]


def test_parked_vehicle_silent_past_the_limit_goes_missing_at_once() -> None:
    vehicle = _silent(2 * 86_400)
    assert liveness.liveness_sweep() == {"missing": 1, "comms_lost": 0}
    vehicle.refresh_from_db()
    assert vehicle.status == Status.MISSING
    assert _events(vehicle) == [["not_located"]]


def test_city_limit_overrides_the_default(settings: Any) -> None:
    strict, lenient = CityFactory.create(slug="strict"), CityFactory.create(slug="lenient")
    settings.TELEMETRY_MISSING_AFTER_S_BY_CITY = ["strict=3600"]
    in_strict, in_lenient = _silent(7200, city=strict), _silent(7200, city=lenient)
    assert liveness.liveness_sweep() == {"missing": 1, "comms_lost": 1}
    in_strict.refresh_from_db()
    in_lenient.refresh_from_db()
    assert (in_strict.status, in_lenient.status) == (Status.MISSING, Status.NON_CONTACTABLE)


def test_vehicles_in_use_or_off_street_are_left_alone() -> None:
    on_trip = _silent(5000, status=Status.ON_TRIP)
    reserved = _silent(5000, status=Status.RESERVED)
    workshop = _silent(5000, status=Status.IN_WORKSHOP)
    assert liveness.liveness_sweep() == {"missing": 0, "comms_lost": 0}
    assert [_events(v) for v in (on_trip, reserved, workshop)] == [[], [], []]


def test_a_vehicle_that_spoke_after_the_selection_is_not_marked(monkeypatch: Any) -> None:
    vehicle = _silent(700)
    real = liveness._candidates

    def selected_then_spoke(*args: Any) -> list[Any]:
        ids = real(*args)
        type(vehicle).objects.filter(id=vehicle.id).update(last_seen_at=timezone.now())  # a batch commits
        return ids

    monkeypatch.setattr(liveness, "_candidates", selected_then_spoke)
    assert liveness.liveness_sweep() == {"missing": 0, "comms_lost": 0}
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE


def test_one_run_handles_at_most_the_batch_limit_oldest_first() -> None:
    vehicles = [_silent(700 + i) for i in range(5)]
    assert liveness.liveness_sweep(limit=2) == {"missing": 0, "comms_lost": 2}
    statuses = [type(v).objects.get(id=v.id).status for v in vehicles]
    assert statuses == [Status.AVAILABLE] * 3 + [Status.NON_CONTACTABLE] * 2


def test_bad_city_limit_setting_fails_loudly(settings: Any) -> None:
    settings.TELEMETRY_MISSING_AFTER_S_BY_CITY = ["berlin=soon"]
    with pytest.raises(Exception, match="TELEMETRY_MISSING_AFTER_S_BY_CITY"):
        liveness.liveness_sweep()


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_log_each_loss_once() -> None:
    from django.db import connection

    vehicles = [_silent(700 + i) for i in range(20)]
    barrier, results = threading.Barrier(2), list[dict[str, int]]()

    def sweep() -> None:
        barrier.wait()
        try:
            results.append(liveness.liveness_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r["comms_lost"] for r in results) == 20
    assert [_events(v) for v in vehicles] == [[["comms_lost"]]] * 20
