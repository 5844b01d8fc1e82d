"""The internal status -> MDS mapping, checked against the MDS 2.0 micromobility event schema
(models/modes/micromobility/event.yaml: which event types may accompany each vehicle_state)."""

from __future__ import annotations

import pytest

from fleet import states
from fleet.states import MdsState, Status

# Transcribed from mds-openapi models/modes/micromobility/event.yaml (MDS 2.0).
SCHEMA_EVENTS_FOR_STATE = {
    "removed": {"agency_pick_up", "comms_restored", "compliance_pick_up", "decommissioned", "located",
                "maintenance_pick_up", "rebalance_pick_up", "unspecified"},
    "available": {"agency_drop_off", "battery_charged", "comms_restored", "located", "maintenance", "on_hours",
                  "provider_drop_off", "reservation_cancel", "system_resume", "trip_cancel", "trip_end", "unspecified"},
    "non_operational": {"battery_low", "comms_restored", "located", "maintenance", "off_hours", "system_suspend",
                        "unspecified"},
    "reserved": {"comms_restored", "located", "reservation_start", "unspecified"},
    "on_trip": {"changed_geographies", "comms_restored", "located", "trip_enter_jurisdiction", "trip_start",
                "unspecified"},
    "non_contactable": {"comms_lost", "unspecified"},
    "missing": {"not_located", "unspecified"},
    "elsewhere": {"comms_restored", "located", "trip_leave_jurisdiction", "unspecified"},
}


@pytest.mark.parametrize("status", Status.values)
def test_every_status_maps_to_one_mds_state(status: str) -> None:
    assert states.mds_state(status) in MdsState.values


def test_mapping_table() -> None:
    assert {s: states.mds_state(s) for s in Status.values} == {
        "available": "available", "reserved": "reserved", "on_trip": "on_trip", "elsewhere": "elsewhere",
        "low_battery": "non_operational", "maintenance": "non_operational", "off_hours": "non_operational",
        "suspended": "non_operational", "in_workshop": "removed", "charging": "removed", "rebalancing": "removed",
        "impounded": "removed", "retired": "removed", "non_contactable": "non_contactable", "missing": "missing",
    }


@pytest.mark.parametrize(("key", "targets"), sorted(states.TRANSITIONS.items()))
def test_every_transition_yields_an_event_the_schema_accepts(key: tuple[str, str], targets: frozenset[str]) -> None:
    _, event = key
    for target in targets:
        assert event in SCHEMA_EVENTS_FOR_STATE[target], (key, target)


@pytest.mark.parametrize(("state", "event"), sorted(states.EVENT_STATUS))
def test_event_specific_statuses_agree_with_their_state(state: str, event: str) -> None:
    assert states.mds_state(states.status_for(state, event)) == state


def test_event_types_are_exactly_the_micromobility_ones() -> None:
    assert set().union(*SCHEMA_EVENTS_FOR_STATE.values()) == states.EVENT_TYPES
