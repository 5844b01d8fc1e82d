"""Every transition of the MDS state machine through ``vehicle_transition``: allowed ones move the vehicle and
append one event; refused ones raise 409 and leave nothing behind."""

from __future__ import annotations

import uuid

import pytest

from fleet import errors, services, states
from fleet.models import Vehicle, VehicleEvent
from fleet.states import MdsState, Status
from tests.fleet.factories import VehicleFactory

LIVE_STATES = [s for s in MdsState.values if s != MdsState.STOPPED]
ALLOWED = sorted((prior, event, target) for (prior, event), targets in states.TRANSITIONS.items() for target in targets)
REFUSED = sorted((s, e) for s in LIVE_STATES for e in states.EVENT_TYPES if (s, e) not in states.TRANSITIONS)


def vehicle_in(state: str) -> Vehicle:
    status = states.STATE_DEFAULT_STATUS[state]
    lost = state in (MdsState.NON_CONTACTABLE, MdsState.MISSING)
    return VehicleFactory.create(status=status, status_before_loss=Status.AVAILABLE if lost else "")


@pytest.mark.django_db
@pytest.mark.parametrize(("prior", "event", "target"), ALLOWED)
def test_allowed_transition_moves_the_vehicle_and_logs_it(prior: str, event: str, target: str) -> None:
    vehicle = vehicle_in(prior)
    hint = states.STATE_DEFAULT_STATUS[target] if len(states.TRANSITIONS[(prior, event)]) > 1 else None
    trip_id = vehicle.trip_id or uuid.uuid4()
    logged = services.vehicle_transition(vehicle_id=vehicle.id, event_types=[event], trip_id=trip_id, status=hint)
    vehicle.refresh_from_db()
    assert vehicle.mds_state == target
    assert (logged.vehicle_state, logged.event_types, logged.applied) == (target, [event], True)
    assert VehicleEvent.objects.filter(vehicle=vehicle).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("prior", "event"), REFUSED)
def test_refused_transition_raises_and_writes_nothing(prior: str, event: str) -> None:
    vehicle = vehicle_in(prior)
    before = Vehicle.objects.values().get(id=vehicle.id)
    with pytest.raises(errors.TransitionNotAllowed) as exc:
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=[event], trip_id=vehicle.trip_id or uuid.uuid4())
    assert exc.value.code == "vehicle_transition_not_allowed" and exc.value.status == 409
    assert exc.value.details == {"from_state": prior, "event_type": event}
    assert Vehicle.objects.values().get(id=vehicle.id) == before
    assert not VehicleEvent.objects.exists()


def test_the_tables_cover_both_directions() -> None:
    assert len(ALLOWED) > 60 and len(REFUSED) > 150


@pytest.mark.django_db
def test_ordered_event_types_discard_the_intermediate_state() -> None:
    vehicle = VehicleFactory.create(status=Status.ON_TRIP)
    logged = services.vehicle_transition(
        vehicle_id=vehicle.id, event_types=["trip_end", "battery_low"], trip_id=vehicle.trip_id
    )
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id) == (Status.LOW_BATTERY, None)
    assert (logged.vehicle_state, logged.previous_status) == (MdsState.NON_OPERATIONAL, Status.ON_TRIP)


@pytest.mark.django_db
def test_comms_restored_brings_back_the_status_before_the_loss() -> None:
    vehicle = VehicleFactory.create(status=Status.ON_TRIP)
    trip = vehicle.trip_id
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["comms_lost"])
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.status_before_loss, vehicle.trip_id) == (Status.NON_CONTACTABLE, Status.ON_TRIP, trip)
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["comms_restored"])
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.status_before_loss, vehicle.trip_id) == (Status.ON_TRIP, "", trip)


@pytest.mark.django_db
def test_an_ambiguous_event_without_a_hint_asks_for_the_state() -> None:
    vehicle = VehicleFactory.create(status=Status.MISSING, status_before_loss="")
    with pytest.raises(errors.VehicleStateRequired) as exc:
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["located"])
    assert exc.value.status == 422 and "available" in exc.value.details["candidates"]
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["located"], status=Status.CHARGING)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.CHARGING


@pytest.mark.django_db
def test_a_hint_that_contradicts_the_state_machine_is_refused() -> None:
    vehicle = VehicleFactory.create(status=Status.AVAILABLE)
    with pytest.raises(errors.TransitionNotAllowed):
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"], status=Status.RETIRED)
    assert not VehicleEvent.objects.exists()


@pytest.mark.django_db
def test_unknown_event_type_and_missing_trip_id_are_422() -> None:
    vehicle = VehicleFactory.create()
    with pytest.raises(errors.UnknownEventType):
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["teleported"])
    with pytest.raises(errors.TripIdRequired):
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["trip_start"])
    assert not VehicleEvent.objects.exists()


@pytest.mark.django_db
def test_retired_is_terminal() -> None:
    vehicle = VehicleFactory.create(status=Status.IN_WORKSHOP)
    services.vehicle_retire(vehicle_id=vehicle.id)
    vehicle.refresh_from_db()
    assert vehicle.status == Status.RETIRED
    with pytest.raises(errors.VehicleRetired):
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["provider_drop_off"])


@pytest.mark.django_db
def test_unknown_vehicle_is_404() -> None:
    with pytest.raises(errors.VehicleNotFound):
        services.vehicle_transition(vehicle_id=uuid.uuid4(), event_types=["located"])


@pytest.mark.django_db
def test_an_ambiguous_first_event_uses_the_status_before_the_loss_and_the_hint_names_the_end() -> None:
    vehicle = VehicleFactory.create(status=Status.MISSING, status_before_loss=Status.AVAILABLE)
    trip = uuid.uuid4()
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["located", "trip_start"], trip_id=trip,
                                status=Status.ON_TRIP)
    vehicle.refresh_from_db()
    assert (vehicle.status, vehicle.trip_id, vehicle.status_before_loss) == (Status.ON_TRIP, trip, "")
