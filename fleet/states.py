"""The vehicle state machine: internal statuses, their MDS 2.0 ``vehicle_state``, and the allowed transitions.

Pure data and functions, no I/O. ``TRANSITIONS`` is the micromobility state-transition table of MDS 2.0
(modes/micromobility.md, "Vehicle State Events"), with MDS 1.x ``unknown`` split into the two 2.0 states it
became: ``non_contactable`` (entered with ``comms_lost``, left with ``comms_restored``) and ``missing``
(entered with ``not_located``, left with ``located``). Three documented extensions for operations:
``unspecified`` may relabel a ``non_operational`` vehicle (e.g. low battery -> maintenance),
``decommissioned`` may retire a vehicle that is already ``removed`` (retiring it from the workshop), and
``not_located`` may take a ``non_contactable`` vehicle to ``missing`` (silent past the city's limit: telemetry).

Internal statuses are finer than MDS states (five of them are MDS ``removed``); ``STATUS_MDS_STATE`` maps each
to exactly one MDS state, so feeds are derived without guesswork.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models


class MdsState(models.TextChoices):
    REMOVED = "removed"
    AVAILABLE = "available"
    NON_OPERATIONAL = "non_operational"
    RESERVED = "reserved"
    ON_TRIP = "on_trip"
    STOPPED = "stopped"
    NON_CONTACTABLE = "non_contactable"
    MISSING = "missing"
    ELSEWHERE = "elsewhere"


class Status(models.TextChoices):
    AVAILABLE = "available"
    RESERVED = "reserved"
    ON_TRIP = "on_trip"
    ELSEWHERE = "elsewhere"
    LOW_BATTERY = "low_battery"
    MAINTENANCE = "maintenance"
    OFF_HOURS = "off_hours"
    SUSPENDED = "suspended"
    IN_WORKSHOP = "in_workshop"
    CHARGING = "charging"
    REBALANCING = "rebalancing"
    IMPOUNDED = "impounded"
    RETIRED = "retired"
    NON_CONTACTABLE = "non_contactable"
    MISSING = "missing"


S = MdsState
STATUS_MDS_STATE: dict[str, str] = {
    Status.AVAILABLE: S.AVAILABLE,
    Status.RESERVED: S.RESERVED,
    Status.ON_TRIP: S.ON_TRIP,
    Status.ELSEWHERE: S.ELSEWHERE,
    Status.LOW_BATTERY: S.NON_OPERATIONAL,
    Status.MAINTENANCE: S.NON_OPERATIONAL,
    Status.OFF_HOURS: S.NON_OPERATIONAL,
    Status.SUSPENDED: S.NON_OPERATIONAL,
    Status.IN_WORKSHOP: S.REMOVED,
    Status.CHARGING: S.REMOVED,
    Status.REBALANCING: S.REMOVED,
    Status.IMPOUNDED: S.REMOVED,
    Status.RETIRED: S.REMOVED,
    Status.NON_CONTACTABLE: S.NON_CONTACTABLE,
    Status.MISSING: S.MISSING,
}

# The status a vehicle takes when it enters an MDS state through an event type (event -> status), and the
# status for an MDS state when the event type does not say more.
EVENT_STATUS: dict[tuple[str, str], str] = {
    (S.NON_OPERATIONAL, "battery_low"): Status.LOW_BATTERY,
    (S.NON_OPERATIONAL, "maintenance"): Status.MAINTENANCE,
    (S.NON_OPERATIONAL, "unspecified"): Status.MAINTENANCE,
    (S.NON_OPERATIONAL, "off_hours"): Status.OFF_HOURS,
    (S.NON_OPERATIONAL, "system_suspend"): Status.SUSPENDED,
    (S.REMOVED, "rebalance_pick_up"): Status.REBALANCING,
    (S.REMOVED, "compliance_pick_up"): Status.REBALANCING,
    (S.REMOVED, "maintenance_pick_up"): Status.IN_WORKSHOP,
    (S.REMOVED, "agency_pick_up"): Status.IMPOUNDED,
    (S.REMOVED, "decommissioned"): Status.RETIRED,
    (S.REMOVED, "unspecified"): Status.IN_WORKSHOP,
}
STATE_DEFAULT_STATUS: dict[str, str] = {
    S.AVAILABLE: Status.AVAILABLE,
    S.RESERVED: Status.RESERVED,
    S.ON_TRIP: Status.ON_TRIP,
    S.ELSEWHERE: Status.ELSEWHERE,
    S.NON_OPERATIONAL: Status.MAINTENANCE,
    S.REMOVED: Status.IN_WORKSHOP,
    S.NON_CONTACTABLE: Status.NON_CONTACTABLE,
    S.MISSING: Status.MISSING,
}

_ON_STREET = (S.AVAILABLE, S.ELSEWHERE, S.NON_OPERATIONAL, S.ON_TRIP, S.REMOVED, S.RESERVED)
_LOST = (S.NON_CONTACTABLE, S.MISSING)
_RESTORABLE = (S.AVAILABLE, S.RESERVED, S.ON_TRIP, S.ELSEWHERE, S.NON_OPERATIONAL, S.REMOVED)
_PICK_UP_FROM = (S.AVAILABLE, S.NON_OPERATIONAL, S.ELSEWHERE)

# (event_type, prior states, resulting states). Several resulting states = the event alone does not say which;
# the caller's ``vehicle_state`` (or the status before the loss of contact) decides.
_TABLE: list[tuple[str, Sequence[str], Sequence[str]]] = [
    ("battery_charged", [S.NON_OPERATIONAL], [S.AVAILABLE]),
    ("on_hours", [S.NON_OPERATIONAL], [S.AVAILABLE]),
    ("system_resume", [S.NON_OPERATIONAL], [S.AVAILABLE]),
    ("provider_drop_off", [S.REMOVED, *_LOST], [S.AVAILABLE]),
    ("agency_drop_off", [S.REMOVED, *_LOST], [S.AVAILABLE]),
    ("maintenance", [S.NON_OPERATIONAL], [S.AVAILABLE]),
    ("maintenance", [S.AVAILABLE], [S.NON_OPERATIONAL]),
    ("trip_end", [S.ON_TRIP], [S.AVAILABLE]),
    ("trip_cancel", [S.ON_TRIP], [S.AVAILABLE]),
    ("reservation_cancel", [S.RESERVED], [S.AVAILABLE]),
    ("reservation_start", [S.AVAILABLE], [S.RESERVED]),
    ("trip_start", [S.AVAILABLE, S.RESERVED], [S.ON_TRIP]),
    ("trip_enter_jurisdiction", [S.ELSEWHERE], [S.ON_TRIP]),
    ("trip_leave_jurisdiction", [S.ON_TRIP], [S.ELSEWHERE]),
    ("changed_geographies", [S.ON_TRIP], [S.ON_TRIP]),
    ("battery_low", [S.AVAILABLE], [S.NON_OPERATIONAL]),
    ("off_hours", [S.AVAILABLE], [S.NON_OPERATIONAL]),
    ("system_suspend", [S.AVAILABLE], [S.NON_OPERATIONAL]),
    ("rebalance_pick_up", _PICK_UP_FROM, [S.REMOVED]),
    ("maintenance_pick_up", _PICK_UP_FROM, [S.REMOVED]),
    ("compliance_pick_up", _PICK_UP_FROM, [S.REMOVED]),
    ("agency_pick_up", [*_PICK_UP_FROM, *_LOST], [S.REMOVED]),
    ("decommissioned", [*_PICK_UP_FROM, *_LOST, S.REMOVED], [S.REMOVED]),
    ("comms_lost", _ON_STREET, [S.NON_CONTACTABLE]),
    ("not_located", _ON_STREET, [S.MISSING]),
    # A vehicle already out of contact whose silence passes the city's limit (telemetry liveness sweep).
    ("not_located", [S.NON_CONTACTABLE], [S.MISSING]),
    ("comms_restored", _LOST, _RESTORABLE),
    ("located", _LOST, _RESTORABLE),
    ("unspecified", [S.NON_OPERATIONAL, *_LOST], [S.AVAILABLE]),
    ("unspecified", _LOST, [S.RESERVED, S.ON_TRIP, S.ELSEWHERE]),
    ("unspecified", [S.AVAILABLE, S.NON_OPERATIONAL, *_LOST], [S.NON_OPERATIONAL]),
    ("unspecified", [*_PICK_UP_FROM, *_LOST], [S.REMOVED]),
]

TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {}
for _event, _priors, _targets in _TABLE:
    for _prior in _priors:
        TRANSITIONS[(_prior, _event)] = TRANSITIONS.get((_prior, _event), frozenset()) | frozenset(_targets)

EVENT_TYPES: frozenset[str] = frozenset(event for event, _, _ in _TABLE)
TRIP_EVENTS = frozenset({"trip_start", "trip_end", "trip_cancel", "trip_enter_jurisdiction", "trip_leave_jurisdiction"})


def next_states(state: str, event_type: str) -> frozenset[str]:
    """MDS states a vehicle in ``state`` may move to with ``event_type``; empty when the table forbids it."""
    return TRANSITIONS.get((state, event_type), frozenset())


def status_for(state: str, event_type: str) -> str:
    """The internal status a vehicle takes when ``event_type`` brings it into MDS ``state``."""
    return EVENT_STATUS.get((state, event_type), STATE_DEFAULT_STATUS[state])


def mds_state(status: str) -> str:
    return STATUS_MDS_STATE[status]
