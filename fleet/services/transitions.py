"""``vehicle_transition``: the one way a vehicle's status changes, checked against the MDS state machine."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from core.db import joins_transaction
from fleet import errors, grid, states
from fleet.models import ActorKind, Vehicle, VehicleEvent
from fleet.states import MdsState, Status

_LOST = (MdsState.NON_CONTACTABLE, MdsState.MISSING)
_IN_USE = (MdsState.RESERVED, MdsState.ON_TRIP, MdsState.ELSEWHERE)
_TRIP_BOUND = frozenset({"trip_end", "trip_cancel", "reservation_cancel", "trip_leave_jurisdiction",
                         "trip_enter_jurisdiction", "changed_geographies"})


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise errors.InvalidCoordinates()


def lock_vehicle(vehicle_id: uuid.UUID, *, held: Vehicle | None = None) -> Vehicle:
    """SELECT ... FOR UPDATE of one vehicle. Caller must be inside ``transaction.atomic``.

    ``held``: that vehicle's row the caller already locked in this transaction; returned as is (no query).
    """
    if held is not None and held.pk == vehicle_id:
        return held
    try:
        return Vehicle.objects.select_for_update().get(id=vehicle_id)
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


def _check_event_types(event_types: Sequence[str], trip_id: uuid.UUID | None) -> None:
    if not event_types:
        raise errors.UnknownEventType("event_types must not be empty.")
    unknown = [e for e in event_types if e not in states.EVENT_TYPES]
    if unknown:
        raise errors.UnknownEventType(event_types=unknown)
    if trip_id is None and states.TRIP_EVENTS.intersection(event_types):
        raise errors.TripIdRequired()


def _resolve(vehicle: Vehicle, state: str, event: str, candidates: frozenset[str], hint: str | None) -> str:
    """Several target states (comms_restored, located, unspecified): the caller's hint, else the pre-loss state."""
    for wanted in (hint, vehicle.status_before_loss or None):
        if wanted is not None and states.mds_state(wanted) in candidates:
            return states.mds_state(wanted)
    raise errors.VehicleStateRequired(from_state=state, event_type=event, candidates=sorted(candidates))


def _walk(vehicle: Vehicle, event_types: Sequence[str], hint: str | None) -> str:
    """Apply the ordered event types; intermediate states are discarded as MDS says."""
    state = vehicle.mds_state
    last = len(event_types) - 1
    for index, event in enumerate(event_types):
        candidates = states.next_states(state, event)
        if not candidates:
            raise errors.TransitionNotAllowed(
                f"A vehicle in MDS state {state!r} cannot take event {event!r}.", from_state=state, event_type=event
            )
        if len(candidates) == 1:
            state = next(iter(candidates))
        else:  # the caller's hint names the final state, so it decides only the last step
            state = _resolve(vehicle, state, event, candidates, hint if index == last else None)
    return state


def _final_status(vehicle: Vehicle, state: str, last_event: str, hint: str | None) -> str:
    if hint is not None:
        if states.mds_state(hint) != state:
            raise errors.TransitionNotAllowed(
                f"Status {hint!r} is not MDS state {state!r}.", status=hint, vehicle_state=state
            )
        return hint
    if vehicle.mds_state in _LOST and vehicle.status_before_loss and states.mds_state(vehicle.status_before_loss) == state:
        return vehicle.status_before_loss
    return states.status_for(state, last_event)


def _check_trip(vehicle: Vehicle, event_types: Sequence[str], trip_id: uuid.UUID | None) -> None:
    if vehicle.trip_id is not None and _TRIP_BOUND.intersection(event_types) and trip_id != vehicle.trip_id:
        raise errors.TripMismatch(trip_id=str(trip_id) if trip_id else None)


_APPLIED_FIELDS = ("status", "status_before_loss", "last_event_at", "trip_id", "battery_pct", "lat", "lon",
                   "position_at", "cell", "updated_at")


def _apply(vehicle: Vehicle, status: str, at: datetime, trip_id: uuid.UUID | None,
           location: Location | None, battery_pct: int | None) -> None:
    new_state = states.mds_state(status)
    if new_state in _LOST and vehicle.mds_state not in _LOST:
        vehicle.status_before_loss = vehicle.status
    elif new_state not in _LOST:
        vehicle.status_before_loss = ""
    vehicle.status = status
    vehicle.last_event_at = at
    if new_state in _IN_USE:
        vehicle.trip_id = trip_id or vehicle.trip_id
    elif new_state not in _LOST:  # a lost vehicle keeps its trip: comms_restored may bring it back on_trip
        vehicle.trip_id = None
    if battery_pct is not None:
        vehicle.battery_pct = battery_pct
    if location is not None and (vehicle.position_at is None or at >= vehicle.position_at):
        vehicle.lat, vehicle.lon, vehicle.position_at = location.lat, location.lon, at
        vehicle.cell = grid.cell_of(location.lat, location.lon)
    vehicle.save(update_fields=_APPLIED_FIELDS)


def _log(vehicle: Vehicle, *, state: str, status: str, previous: str, applied: bool, **fields: Any) -> VehicleEvent:
    location: Location | None = fields.pop("location")
    return VehicleEvent.objects.create(
        vehicle=vehicle, vehicle_state=state, status=status, previous_status=previous, applied=applied,
        lat=location.lat if location else None, lon=location.lon if location else None, **fields,
    )


def _claimed_state(vehicle: Vehicle, event_types: Sequence[str], hint: str | None) -> tuple[str, str]:
    """For an out-of-order event: the state it claims (the hint, or the only target of its last event type)."""
    if hint is not None:
        return states.mds_state(hint), hint
    targets = {t for (_, e), ts in states.TRANSITIONS.items() if e == event_types[-1] for t in ts}
    state = targets.pop() if len(targets) == 1 else vehicle.mds_state
    return state, states.status_for(state, event_types[-1])


@joins_transaction
def vehicle_transition(
    *,
    vehicle_id: uuid.UUID,
    event_types: Sequence[str],
    actor_kind: str = ActorKind.SYSTEM,
    actor: Any = None,
    at: datetime | None = None,
    location: Location | None = None,
    battery_pct: int | None = None,
    trip_id: uuid.UUID | None = None,
    status: str | None = None,
    locked: Vehicle | None = None,
) -> VehicleEvent:
    """Move a vehicle through the MDS state machine and append the event to its log; returns the event.

    Runs in the caller's transaction (every check comes before the two writes). ``locked``: the vehicle row the
    caller already holds with ``lock_vehicle`` in this transaction (saves locking it again).

    ``event_types`` are ordered MDS event types (e.g. ``["trip_end", "battery_low"]``). ``status`` picks the
    internal status (and so the MDS state) when the events alone do not say it (``comms_restored`` after a
    loss of contact restores the status before the loss unless told otherwise). An event older than the
    vehicle's last applied event (a device's delayed report) is logged with ``applied=False`` and does not move
    the state back, nor is it checked against the state machine (MDS: prior state is not enforced out of order).
    Raises ``TransitionNotAllowed`` (409), ``VehicleStateRequired``/``UnknownEventType``/``TripIdRequired`` (422).
    """
    at = at or timezone.now()
    _check_event_types(event_types, trip_id)
    if status is not None and status not in Status.values:
        raise errors.UnknownEventType(f"Unknown status {status!r}.")
    vehicle = lock_vehicle(vehicle_id, held=locked)
    common = {"event_types": list(event_types), "timestamp": at, "location": location, "battery_pct": battery_pct,
              "trip_id": trip_id, "actor_kind": actor_kind, "actor": actor}
    if vehicle.last_event_at is not None and at < vehicle.last_event_at:
        state, claimed = _claimed_state(vehicle, event_types, status)
        return _log(vehicle, state=state, status=claimed, previous=vehicle.status, applied=False, **common)
    if vehicle.status == Status.RETIRED:
        raise errors.VehicleRetired()
    _check_trip(vehicle, event_types, trip_id)
    state = _walk(vehicle, event_types, status)
    new_status = _final_status(vehicle, state, event_types[-1], status)
    previous = vehicle.status
    _apply(vehicle, new_status, at, trip_id, location, battery_pct)
    return _log(vehicle, state=state, status=new_status, previous=previous, applied=True, **common)
