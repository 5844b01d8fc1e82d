"""Property test: any sequence of MDS events, applied in order or late, keeps the vehicle and its log coherent."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from fleet import services, states
from fleet.models import VehicleEvent
from fleet.states import MdsState, Status
from tests.fleet.factories import VehicleFactory

EVENTS = sorted(states.EVENT_TYPES)
IN_USE = (MdsState.RESERVED, MdsState.ON_TRIP, MdsState.ELSEWHERE)
LOST = (MdsState.NON_CONTACTABLE, MdsState.MISSING)

steps = st.lists(
    st.tuples(st.sampled_from(EVENTS), st.integers(min_value=-30, max_value=60), st.sampled_from([None, *Status.values])),
    min_size=1, max_size=25,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_any_event_sequence_keeps_vehicle_and_log_coherent(steps: list[tuple[str, int, str | None]]) -> None:
    vehicle = VehicleFactory.create()
    clock = timezone.now()
    applied = 0
    for event, shift_s, hint in steps:
        at = clock + timedelta(seconds=shift_s)
        before = vehicle.last_event_at
        try:
            logged = services.vehicle_transition(vehicle_id=vehicle.id, event_types=[event], at=at, status=hint,
                                                 trip_id=vehicle.trip_id or uuid.uuid4())
        except DomainError:
            continue
        vehicle.refresh_from_db()
        if logged.applied:
            applied += 1
            clock = max(clock, at)
            assert vehicle.status == logged.status and vehicle.mds_state == logged.vehicle_state
            assert logged.vehicle_state in states.next_states(states.mds_state(logged.previous_status), event)
        else:
            assert before is not None and at < before and vehicle.last_event_at == before
        assert (vehicle.trip_id is not None) == (vehicle.mds_state in IN_USE) or vehicle.mds_state in LOST
    assert VehicleEvent.objects.filter(vehicle=vehicle, applied=True).count() == applied
