"""The vehicle event log: out-of-order device events, append-only in the database, the rides helpers."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError
from django.utils import timezone

from fleet import errors, services
from fleet.models import ActorKind, Vehicle, VehicleEvent
from fleet.services import Location
from fleet.states import Status
from tests.fleet.factories import VehicleFactory


@pytest.mark.django_db
def test_an_older_event_is_logged_but_does_not_move_the_state_back() -> None:
    vehicle = VehicleFactory.create()
    now = timezone.now()
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"], at=now, battery_pct=9)
    late = services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_charged"],
                                       at=now - timedelta(minutes=5), battery_pct=100)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.battery_pct, vehicle.last_event_at) == (Status.LOW_BATTERY, 9, now)
    assert (late.applied, late.vehicle_state, late.status) == (False, "available", Status.AVAILABLE)
    assert VehicleEvent.objects.filter(vehicle=vehicle).count() == 2


@pytest.mark.django_db
def test_an_out_of_order_event_is_not_checked_against_the_current_state() -> None:
    vehicle = VehicleFactory.create()
    now = timezone.now()
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["maintenance_pick_up"], at=now)
    # trip_end from "removed" would be refused in order; delayed, it is only recorded.
    late = services.vehicle_transition(vehicle_id=vehicle.id, event_types=["trip_end"], trip_id=uuid.uuid4(),
                                       at=now - timedelta(seconds=30))
    assert late.applied is False
    vehicle.refresh_from_db()
    assert vehicle.status == Status.IN_WORKSHOP


@pytest.mark.django_db
def test_the_log_refuses_update_and_delete_in_the_database() -> None:
    vehicle = VehicleFactory.create()
    event = services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        VehicleEvent.objects.filter(id=event.id).update(battery_pct=50)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM fleet_vehicleevent")
    assert VehicleEvent.objects.get(id=event.id).vehicle_state == "non_operational"


@pytest.mark.django_db
def test_event_records_location_battery_trip_and_actor(rider: Any) -> None:
    vehicle = VehicleFactory.create()
    trip = uuid.uuid4()
    event = services.trip_start(vehicle_id=vehicle.id, trip_id=trip, actor=rider,
                                location=Location(52.51, 13.39), battery_pct=77)
    event.refresh_from_db()
    assert (event.lat, event.lon, event.battery_pct, event.trip_id) == (52.51, 13.39, 77, trip)
    assert (event.actor, event.actor_kind, event.event_types) == (rider, ActorKind.RIDER, ["trip_start"])
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon, vehicle.trip_id, vehicle.status) == (52.51, 13.39, trip, Status.ON_TRIP)


@pytest.mark.django_db
def test_reservation_then_trip_then_end_with_low_battery() -> None:
    vehicle = VehicleFactory.create()
    reservation, trip = uuid.uuid4(), uuid.uuid4()
    services.reservation_start(vehicle_id=vehicle.id, reservation_id=reservation)
    with pytest.raises(errors.VehicleUnavailable):
        services.trip_start(vehicle_id=vehicle.id, trip_id=trip)  # someone else's reservation
    services.trip_start(vehicle_id=vehicle.id, trip_id=trip, reservation_id=reservation)
    with pytest.raises(errors.TripMismatch):
        services.trip_end(vehicle_id=vehicle.id, trip_id=uuid.uuid4())
    services.trip_end(vehicle_id=vehicle.id, trip_id=trip, battery_pct=5)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.LOW_BATTERY, None)
    assert list(VehicleEvent.objects.order_by("recorded_at").values_list("event_types", flat=True)) == [
        ["reservation_start"], ["trip_start"], ["trip_end", "battery_low"]
    ]


@pytest.mark.django_db
def test_reservation_cancel_and_trip_cancel_return_the_vehicle() -> None:
    vehicle = VehicleFactory.create()
    reservation, trip = uuid.uuid4(), uuid.uuid4()
    services.reservation_start(vehicle_id=vehicle.id, reservation_id=reservation)
    services.reservation_cancel(vehicle_id=vehicle.id, reservation_id=reservation)
    services.trip_start(vehicle_id=vehicle.id, trip_id=trip)
    services.trip_cancel(vehicle_id=vehicle.id, trip_id=trip)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.AVAILABLE, None)


@pytest.mark.django_db
def test_claim_by_code_and_unavailable_vehicle() -> None:
    vehicle = VehicleFactory.create(code="ABC123")
    busy = VehicleFactory.create(status=Status.MAINTENANCE)
    with transaction.atomic():
        assert services.vehicle_claim_for_ride(code="abc123") == vehicle
        with pytest.raises(errors.VehicleUnavailable):
            services.vehicle_claim_for_ride(vehicle_id=busy.id)
        with pytest.raises(errors.VehicleNotFound):
            services.vehicle_claim_for_ride(code="NOPE99")


@pytest.mark.django_db
def test_set_maintenance_from_available_and_relabel_from_low_battery() -> None:
    a, b = VehicleFactory.create(), VehicleFactory.create(status=Status.LOW_BATTERY)
    services.vehicle_set_maintenance(vehicle_id=a.id)
    services.vehicle_set_maintenance(vehicle_id=b.id)
    assert set(Vehicle.objects.values_list("status", flat=True)) == {Status.MAINTENANCE}
    assert list(VehicleEvent.objects.filter(vehicle=b).values_list("event_types", flat=True)) == [["unspecified"]]
    with pytest.raises(errors.TransitionNotAllowed):
        services.vehicle_set_maintenance(vehicle_id=VehicleFactory.create(status=Status.ON_TRIP).id)


@pytest.mark.django_db(transaction=True)
def test_two_riders_racing_for_one_vehicle_get_one_trip() -> None:
    vehicle = VehicleFactory.create()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def start() -> None:
        try:
            barrier.wait()
            services.trip_start(vehicle_id=vehicle.id, trip_id=uuid.uuid4())
            outcomes.append("started")
        except errors.VehicleUnavailable:
            outcomes.append("unavailable")
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["started", "unavailable"]
    assert VehicleEvent.objects.filter(vehicle=vehicle).count() == 1
