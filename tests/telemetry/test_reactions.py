"""telemetry.reactions.react: what one batch of readings sets off, on real PostgreSQL and Redis.

Only the network edges are replaced: the vehicle gateway (a recording one) and the channel layer send (recorded).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Notification
from config.celery import app as celery_app
from core import push
from fleet import geofence
from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState, OpsAlert, OpsTask, Vehicle, VehicleEvent
from fleet.models.vehicles import Flag
from fleet.selectors import zones as zone_selectors
from fleet.states import Status
from rides.models import Ride, RideState, RideTrackPoint
from telemetry.messages import Ack, Reading, VehicleBefore
from telemetry.reactions import react
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory, square
from tests.fleet.gateways import RecordingGateway

pytestmark = pytest.mark.django_db

# A slow zone (12 km/h) and a no-ride zone side by side inside the operating area (13-14 E, 52-53 N).
SLOW = square(13.40, 52.50, 0.01)
NO_RIDE = square(13.42, 52.50, 0.01)
OUTSIDE = (52.495, 13.405)  # lat, lon: south of both
IN_SLOW = (52.505, 13.405)
IN_NO_RIDE = (52.505, 13.425)


@pytest.fixture(autouse=True)
def _edges(settings: Any) -> Iterator[None]:
    """Commands go out through a recording gateway, delivered by eager Celery; fresh compiled zones."""
    settings.VEHICLE_GATEWAY = "tests.fleet.gateways.RecordingGateway"
    RecordingGateway.sent, RecordingGateway.behaviour = [], "ok"
    celery_app.conf.task_always_eager = True
    zone_selectors.clear_geofence_cache()
    yield
    celery_app.conf.task_always_eager = False
    zone_selectors.clear_geofence_cache()


@pytest.fixture
def pushes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(push, "_send", lambda group, message: sent.append((group, message)))
    return sent


@pytest.fixture
def city(db: Any) -> Any:
    city = CityFactory.create(slug="berlin", name="Berlin")
    ZoneFactory.create(city=city, kind="operating_area", priority=100)
    ZoneFactory.create(city=city, kind="slow", name="Old town", priority=10, geometry=SLOW,
                       maximum_speed_kph=12)
    ZoneFactory.create(city=city, kind="no_ride", name="Park", priority=5, geometry=NO_RIDE,
                       ride_start_allowed=False, ride_end_allowed=False, ride_through_allowed=False)
    return city


@pytest.fixture
def scooter(db: Any) -> Any:
    return VehicleTypeFactory.create(code="scooter", max_permitted_speed_kph=20)


def parked(city: Any, scooter: Any, **fields: Any) -> Vehicle:
    fields.setdefault("lat", OUTSIDE[0])
    fields.setdefault("lon", OUTSIDE[1])
    fields.setdefault("position_at", timezone.now() - timedelta(minutes=1))
    return VehicleFactory.create(city=city, vehicle_type=scooter, **fields)


def riding(city: Any, scooter: Any, rider: Any, **fields: Any) -> tuple[Vehicle, Ride]:
    vehicle = parked(city, scooter, status=Status.ON_TRIP, locked=False, **fields)
    ride = Ride.objects.create(id=vehicle.trip_id, rider=rider, vehicle=vehicle, vehicle_type=scooter, city=city,
                               state=RideState.ACTIVE, tariff={}, currency="EUR", started_at=timezone.now())
    return vehicle, ride


def before_of(vehicle: Vehicle) -> VehicleBefore:
    vehicle.refresh_from_db()
    return VehicleBefore(
        vehicle_id=vehicle.id, city_id=vehicle.city_id, vehicle_type_code=vehicle.vehicle_type.code,
        status=vehicle.status, trip_id=vehicle.trip_id, lat=vehicle.lat, lon=vehicle.lon,
        position_at=vehicle.position_at, battery_pct=vehicle.battery_pct, locked=vehicle.locked,
        last_seen_at=vehicle.last_seen_at, code=vehicle.code,
    )


def at(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def reading(vehicle: Vehicle, seq: int, point: tuple[float, float] | None = None, *, when: datetime | None = None,
            **fields: Any) -> Reading:
    when = when or at(seq)
    lat, lon = point if point is not None else (None, None)
    return Reading(vehicle_id=vehicle.id, seq=seq, at=when, received_at=timezone.now(), lat=lat, lon=lon, **fields)


def record(readings: list[Reading]) -> None:
    """What the batch worker writes before reacting: the vehicles' latest state (never moved back in time)."""
    for r in readings:
        location = fleet_services.Location(r.lat, r.lon) if r.lat is not None and r.lon is not None else None
        fleet_services.vehicle_record_reading(vehicle_id=r.vehicle_id, at=r.at, location=location,
                                              battery_pct=r.battery_pct)


def run(capture: Any, readings: list[Reading], *vehicles: Vehicle) -> dict[str, int]:
    """The batch worker's call: ``before`` read first, state written, readings sorted by (vehicle, seq), callbacks
    after commit."""
    before = {v.id: before_of(v) for v in vehicles}
    readings = sorted(readings, key=lambda r: (r.vehicle_id, r.seq))
    with capture(execute=True):
        record(readings)
        return react(readings=readings, before=before)


def events(pushes: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [m["payload"] for _, m in pushes if m.get("event") == name]


# --- ride tracks ------------------------------------------------------------------------------------------------

def test_track_points_and_running_distance_for_a_vehicle_on_a_trip(
    city: Any, scooter: Any, rider: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider)
    points = [(52.4960, 13.405), (52.4970, 13.405), (52.4980, 13.405)]  # 111 m apart, starting 111 m north
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, i + 1, p) for i, p in enumerate(points)],
                   vehicle)
    assert counters["track_points"] == 3
    assert list(RideTrackPoint.objects.filter(ride=ride).order_by("at").values_list("lat", flat=True)) == [
        52.4960, 52.4970, 52.4980]
    ride.refresh_from_db()
    expected = geofence.haversine_m(OUTSIDE[1], OUTSIDE[0], 13.405, 52.4980)
    assert ride.distance_m == pytest.approx(expected, abs=2)
    updated = events(pushes, "ride.updated")
    assert updated == [{"lat": 52.4980, "lon": 13.405, "battery_pct": 80, "at": updated[0]["at"],
                        "distance_m": ride.distance_m}]
    assert ("ride." + str(ride.id)) in [group for group, m in pushes if m.get("event") == "ride.updated"]


def test_late_readings_add_no_track_point_and_move_nothing(
    city: Any, scooter: Any, rider: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider)
    assert vehicle.position_at is not None
    old = vehicle.position_at - timedelta(seconds=5)
    counters = run(django_capture_on_commit_callbacks,
                   [reading(vehicle, 1, IN_NO_RIDE, when=old, battery_pct=5)], vehicle)
    assert counters["late"] == 1
    assert not RideTrackPoint.objects.filter(ride=ride).exists()
    assert not OpsAlert.objects.exists() and not OpsTask.objects.exists()
    assert events(pushes, "ride.zone_warning") == [] and events(pushes, "ride.updated") == []


def test_a_reading_older_than_an_earlier_one_of_the_same_batch_is_late(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider)
    counters = run(django_capture_on_commit_callbacks,
                   [reading(vehicle, 1, (52.4960, 13.405), when=at(10)), reading(vehicle, 2, (52.4970, 13.405), when=at(5))],
                   vehicle)
    assert counters["late"] == 1
    # Late, so it moves nothing, but it is part of the ride: in its track at its device time (issue 18).
    assert list(RideTrackPoint.objects.filter(ride=ride).order_by("at").values_list("lat", flat=True)) == [
        52.4970, 52.4960]


# --- geofence ---------------------------------------------------------------------------------------------------

def test_entering_a_slow_zone_on_a_trip_throttles_once_and_leaving_restores_the_limit(
    city: Any, scooter: Any, rider: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider)
    batch = [reading(vehicle, 1, (52.499, 13.405)), reading(vehicle, 2, IN_SLOW)]
    counters = run(django_capture_on_commit_callbacks, batch, vehicle)
    assert counters["zone_entries"] == 1 and counters["speed_limits"] == 1
    command = Command.objects.get(vehicle=vehicle)
    assert (command.kind, command.params, command.state) == (CommandKind.SET_SPEED_LIMIT, {"max_speed_kph": 12},
                                                             CommandState.SENT)
    warning = events(pushes, "ride.zone_warning")
    assert [(w["zone_kind"], w["zone_name"], w["max_speed_kph"]) for w in warning] == [("slow", "Old town", 12)]

    run(django_capture_on_commit_callbacks, [reading(vehicle, 3, (52.4955, 13.405))], vehicle)
    limits = list(Command.objects.filter(vehicle=vehicle).order_by("created_at").values_list("params", flat=True))
    assert limits == [{"max_speed_kph": 12}, {"max_speed_kph": 20}]  # the scooter type's own maximum


def test_a_retried_batch_queues_no_second_speed_limit(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, _ = riding(city, scooter, rider)
    batch = [reading(vehicle, 1, IN_SLOW)]
    before = {vehicle.id: before_of(vehicle)}
    with django_capture_on_commit_callbacks(execute=True):
        first = react(readings=batch, before=before)
        again = react(readings=batch, before=before)  # the batch was committed but not XACKed: redelivered
    assert (first["speed_limits"], again.get("speed_limits", 0)) == (1, 0)
    assert Command.objects.filter(vehicle=vehicle).count() == 1


def test_no_ride_zone_on_a_trip_alerts_ops_warns_and_notifies_the_rider(
    city: Any, scooter: Any, rider: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider, lat=52.505, lon=13.415)
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, IN_NO_RIDE)], vehicle)
    assert counters["alerts_opened"] == 1
    alert = OpsAlert.objects.get(vehicle=vehicle)
    assert (alert.kind, alert.severity, alert.data["ride_id"]) == ("no_ride_zone", "critical", str(ride.id))
    assert [w["zone_kind"] for w in events(pushes, "ride.zone_warning")] == ["no_ride"]
    assert events(pushes, "ops_alert.opened")[0]["id"] == str(alert.id)
    note = Notification.objects.get(user=rider)
    assert (note.kind, note.title, note.data["zone_name"]) == ("ride.zone_warning", "No-riding zone", "Park")


def test_zone_changes_of_a_parked_vehicle_are_counted_but_set_nothing_off(
    city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, status=Status.REBALANCING)  # moved by a van: no trip (an available vehicle
    # moving like this is unauthorised movement: tests/telemetry/test_reactions_alerts.py)
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, IN_NO_RIDE)], vehicle)
    assert counters["zone_entries"] == 1
    assert not Command.objects.exists() and not OpsAlert.objects.exists()
    assert events(pushes, "ride.zone_warning") == []


# --- battery ----------------------------------------------------------------------------------------------------

def test_low_battery_takes_an_available_vehicle_off_the_street_with_one_swap_task(
    city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, battery_pct=30)
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, OUTSIDE, battery_pct=9)], vehicle)
    assert (counters["battery_low"], counters["tasks_opened"]) == (1, 1)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.LOW_BATTERY
    assert VehicleEvent.objects.filter(vehicle=vehicle, event_types=["battery_low"], applied=True).count() == 1
    task = OpsTask.objects.get(vehicle=vehicle)
    assert (task.kind, task.state) == ("swap_battery", "open")
    assert events(pushes, "ops_task.opened")[0]["id"] == str(task.id)
    assert [p["status"] for _, m in pushes if m["type"] == "live.positions" for p in m["vehicles"]] == ["low_battery"]

    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 2, OUTSIDE, battery_pct=8)], vehicle)
    assert "tasks_opened" not in counters and OpsTask.objects.filter(vehicle=vehicle).count() == 1


def test_a_lagging_device_clock_does_not_keep_the_battery_transition_from_applying(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, battery_pct=30, position_at=timezone.now() - timedelta(minutes=5))
    Vehicle.objects.filter(id=vehicle.id).update(last_event_at=timezone.now())  # e.g. its trip just ended
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, OUTSIDE, when=at(-60), battery_pct=9)], vehicle)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.LOW_BATTERY
    assert VehicleEvent.objects.get(vehicle=vehicle, event_types=["battery_low"]).applied is True


def test_low_battery_on_a_trip_opens_a_task_but_the_ride_goes_on(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, _ = riding(city, scooter, rider, battery_pct=20)
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, (52.496, 13.405), battery_pct=10)], vehicle)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.ON_TRIP
    assert OpsTask.objects.filter(vehicle=vehicle, kind="swap_battery", state="open").count() == 1


def test_a_charged_battery_brings_a_low_battery_vehicle_back_and_closes_the_swap_task(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, battery_pct=30)
    run(django_capture_on_commit_callbacks, [reading(vehicle, 1, OUTSIDE, battery_pct=9)], vehicle)
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 2, OUTSIDE, battery_pct=95)], vehicle)
    assert counters["battery_charged"] == 1
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    task = OpsTask.objects.get(vehicle=vehicle)
    assert task.state == "done" and task.closed_at is not None


# --- alarms, acks, comms ----------------------------------------------------------------------------------------

def test_tipped_over_opens_one_alert_flags_the_vehicle_and_pushes_once(
    city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter)
    counters = run(django_capture_on_commit_callbacks,
                   [reading(vehicle, 1, OUTSIDE, alarms=("tipped_over",)), reading(vehicle, 2, alarms=("tipped_over",))],
                   vehicle)
    assert counters["alerts_opened"] == 1
    alert = OpsAlert.objects.get(vehicle=vehicle)
    assert (alert.kind, alert.severity, alert.resolved_at) == ("tipped_over", "warning", None)
    vehicle.refresh_from_db()
    assert vehicle.flags == [Flag.TIPPED_OVER]
    assert [p["kind"] for p in events(pushes, "vehicle.alarm")] == ["tipped_over"]

    pushes.clear()
    run(django_capture_on_commit_callbacks, [reading(vehicle, 3, alarms=("tipped_over", "tamper"))], vehicle)
    assert sorted(OpsAlert.objects.filter(vehicle=vehicle).values_list("kind", "severity")) == [
        ("tamper", "critical"), ("tipped_over", "warning")]
    assert [p["kind"] for p in events(pushes, "vehicle.alarm")] == ["tamper"]
    vehicle.refresh_from_db()
    assert vehicle.flags == [Flag.TIPPED_OVER]


def test_acks_close_commands_and_unknown_or_unsent_ones_are_ignored(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter, locked=False)
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery delivers it through the gateway
        sent = fleet_services.command_queue(vehicle_id=vehicle.id, kind=CommandKind.LOCK)
    celery_app.conf.task_always_eager = False
    queued = fleet_services.command_queue(vehicle_id=vehicle.id, kind=CommandKind.LOCATE)
    batch = [reading(vehicle, 1, ack=Ack(sent.correlation_id, True)),
             reading(vehicle, 2, ack=Ack(uuid.uuid4(), True)),
             reading(vehicle, 3, ack=Ack(queued.correlation_id, True)),
             reading(vehicle, 4, ack=Ack(sent.correlation_id, True))]  # a repeated answer
    counters = run(django_capture_on_commit_callbacks, batch, vehicle)
    assert (counters["acks"], counters["acks_ignored"]) == (2, 2)
    sent.refresh_from_db()
    queued.refresh_from_db()
    assert (sent.state, queued.state) == (CommandState.ACKED, CommandState.QUEUED)
    vehicle.refresh_from_db()
    assert vehicle.locked is True


def test_a_lost_vehicle_that_speaks_again_is_restored(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter)
    fleet_services.vehicle_transition(vehicle_id=vehicle.id, event_types=["comms_lost"])
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, OUTSIDE, battery_pct=70)], vehicle)
    assert counters["comms_restored"] == 1
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    assert VehicleEvent.objects.filter(vehicle=vehicle, event_types=["comms_restored"], applied=True).exists()


# --- failures, retries, live ------------------------------------------------------------------------------------

def test_one_failing_vehicle_does_not_abort_the_batch(
    city: Any, scooter: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    retired = parked(city, scooter, battery_pct=50)
    stale = before_of(retired)  # the worker's view said available ...
    Vehicle.objects.filter(id=retired.id).update(status=Status.RETIRED)  # ... but the vehicle was retired since
    broken, fine = parked(city, scooter), parked(city, scooter)
    real_open = fleet_services.ops_alerts_open

    def open_alerts(*, alerts: Any, **kwargs: Any) -> Any:
        if any(a.vehicle_id == broken.id for a in alerts):
            raise RuntimeError("bad row")
        return real_open(alerts=alerts, **kwargs)

    monkeypatch.setattr(fleet_services, "ops_alerts_open", open_alerts)
    before = {retired.id: stale, broken.id: before_of(broken), fine.id: before_of(fine)}
    batch = [reading(retired, 1, OUTSIDE, battery_pct=5), reading(broken, 1, OUTSIDE, alarms=("tamper",)),
             reading(fine, 1, OUTSIDE, alarms=("tamper",), battery_pct=4)]
    with django_capture_on_commit_callbacks(execute=True):
        counters = react(readings=sorted(batch, key=lambda r: (r.vehicle_id, r.seq)), before=before)
    assert counters["errors"] == 2  # the retired vehicle's transition, the broken vehicle's alert
    assert list(OpsAlert.objects.filter(kind="tamper").values_list("vehicle_id", flat=True)) == [fine.id]
    fine.refresh_from_db()
    assert fine.status == Status.LOW_BATTERY
    assert set(OpsTask.objects.values_list("vehicle_id", flat=True)) == {retired.id, fine.id}


def test_a_rolled_back_batch_leaves_nothing_and_its_retry_reacts_once(
    city: Any, scooter: Any, rider: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, ride = riding(city, scooter, rider, battery_pct=30)
    batch = [reading(vehicle, 1, (52.499, 13.405)), reading(vehicle, 2, IN_SLOW, alarms=("tamper",), battery_pct=9)]
    before = {vehicle.id: before_of(vehicle)}
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        react(readings=batch, before=before)
        transaction.set_rollback(True)  # the worker died before commit
    assert not (RideTrackPoint.objects.exists() or Command.objects.exists() or OpsAlert.objects.exists()
                or OpsTask.objects.exists())
    assert pushes == []
    with django_capture_on_commit_callbacks(execute=True):
        counters = react(readings=batch, before=before)
    assert (counters["track_points"], counters["speed_limits"], counters["alerts_opened"],
            counters["tasks_opened"]) == (2, 1, 2, 1)  # alerts: tamper, battery_low
    assert (RideTrackPoint.objects.count(), Command.objects.count(), OpsAlert.objects.count(),
            OpsTask.objects.count()) == (2, 1, 2, 1)
    ride.refresh_from_db()
    distance = ride.distance_m
    with django_capture_on_commit_callbacks(execute=True):
        react(readings=batch, before=before)  # redelivered after commit: duplicates change nothing
    ride.refresh_from_db()
    assert (ride.distance_m, RideTrackPoint.objects.count(), OpsAlert.objects.count()) == (distance, 2, 2)


def test_one_positions_message_per_city_with_the_newest_state(
    city: Any, scooter: Any, pushes: Any, django_capture_on_commit_callbacks: Any
) -> None:
    other_city = CityFactory.create(slug="hamburg")
    a, b = parked(city, scooter), parked(city, scooter)
    c = VehicleFactory.create(city=other_city, vehicle_type=scooter, position_at=timezone.now() - timedelta(minutes=1))
    batch = [reading(a, 1, (52.4951, 13.405), battery_pct=70), reading(a, 2, (52.4952, 13.405), battery_pct=69),
             reading(b, 1, battery_pct=50), reading(c, 1, (53.55, 10.0))]
    run(django_capture_on_commit_callbacks, batch, a, b, c)
    positions = {group: m["vehicles"] for group, m in pushes if m["type"] == "live.positions"}
    assert set(positions) == {f"fleet.{city.id}", f"fleet.{other_city.id}"}
    mine = {p["code"]: p for p in positions[f"fleet.{city.id}"]}
    assert (mine[a.code]["lat"], mine[a.code]["battery_pct"], mine[a.code]["status"]) == (52.4952, 69, "available")
    assert (mine[b.code]["lat"], mine[b.code]["battery_pct"]) == (OUTSIDE[0], 50)  # no fix: its last position
    assert [p["id"] for p in positions[f"fleet.{other_city.id}"]] == [str(c.id)]


def test_a_batch_of_plain_positions_costs_a_handful_of_queries(
    city: Any, scooter: Any, rider: Any, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    riders = [rider, *UserFactory.create_batch(4)]
    vehicles = [riding(city, scooter, r)[0] for r in riders] + [parked(city, scooter) for _ in range(5)]
    batch = [reading(v, s, (52.4951 + s * 1e-4, 13.405)) for v in vehicles for s in (1, 2, 3)]
    before = {v.id: before_of(v) for v in vehicles}
    zone_selectors.geofence_for_city(city.id)  # compiled once per process, not per batch
    # SAVEPOINT, tracked rides, track INSERT, distance UPDATE, RELEASE: nothing per message or per vehicle
    with django_assert_max_num_queries(5):
        counters = react(readings=batch, before=before)
    assert counters["track_points"] == 15 and counters["vehicles"] == 10


def test_readings_of_a_vehicle_missing_from_before_are_skipped(
    city: Any, scooter: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle = parked(city, scooter)
    ghost = Reading(vehicle_id=uuid.uuid4(), seq=1, at=at(1), received_at=timezone.now(), lat=52.5, lon=13.4,
                    alarms=("tamper",))
    counters = run(django_capture_on_commit_callbacks, [ghost, reading(vehicle, 1, OUTSIDE, alarms=("tamper",))],
                   vehicle)
    assert (counters["vehicles"], counters["alerts_opened"]) == (1, 1)
    assert list(OpsAlert.objects.values_list("vehicle_id", flat=True)) == [vehicle.id]
