"""MDS Provider ``/events/historical`` (an hour) and ``/events/recent`` (a range within two weeks), derived from the
vehicle event log (``fleet.models.VehicleEvent``, through ``fleet.selectors``).

An event with several ordered ``event_types`` (``[trip_end, battery_low]``: the vehicle went from ``on_trip``
through ``available`` to ``non_operational``) is published as one event per type, in order, at the same time: the
MDS micromobility schema (models/modes/micromobility/event.yaml) allows each ``vehicle_state`` only the event types
that lead to it, so the multi-type event the prose describes cannot validate. The last part keeps the logged
``event_id`` and state; the parts before it get ids derived from it (uuid5) and the state the table leads to.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.mds.hours import HOUR
from fleet import selectors as fleet_selectors
from fleet import states

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
RECENT_LIMIT = timedelta(weeks=2)  # MDS: /events/recent refuses a range starting further back
_TRIP_STATES = (states.MdsState.ON_TRIP, states.MdsState.ELSEWHERE)


def _ms(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(milliseconds=1)


def _states_along(previous: str, event_types: Sequence[str], final: str) -> list[str] | None:
    """The MDS state after each event type, the last being ``final``; None when the table does not say which
    state an intermediate type led to."""
    walked, state = [], previous
    for event_type in event_types[:-1]:
        targets = states.next_states(state, event_type)
        if len(targets) != 1:
            return None
        state = next(iter(targets))
        walked.append(state)
    return [*walked, final]


def last_part(previous_status: str, event_types: Sequence[str], vehicle_state: str) -> list[str]:
    """The event types of the last part ``mds_events`` publishes for a logged event (the part that keeps its
    ``event_id`` and state): the last type when the event is split, else all of them. ``/vehicles/status`` serves
    this part as ``last_event``, so a vehicle's last event has one shape, valid, on every endpoint."""
    types = list(event_types)
    if len(types) > 1 and _states_along(states.mds_state(previous_status), types, vehicle_state) is not None:
        return types[-1:]
    return types


def _event(row: dict[str, Any], provider_id: str, event_id: uuid.UUID, state: str,
           event_types: list[str]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "provider_id": provider_id, "device_id": str(row["vehicle_id"]), "event_id": str(event_id),
        "vehicle_state": state, "event_types": event_types, "timestamp": _ms(row["timestamp"]),
        "publication_time": _ms(row["recorded_at"]),
    }
    if row["location_lat"] is not None and row["location_lon"] is not None:
        event["location"] = {"lat": row["location_lat"], "lng": row["location_lon"]}
    if row["battery_pct"] is not None:
        event["battery_percent"] = row["battery_pct"]
    # As records.event_trip_ids: on trip_* events and while on a trip (a reservation's id is not a trip's).
    if row["trip_id"] is not None and (states.TRIP_EVENTS.intersection(event_types) or state in _TRIP_STATES):
        event["trip_ids"] = [str(row["trip_id"])]
    return event


def mds_events(rows: Iterable[dict[str, Any]], *, provider_id: str) -> list[dict[str, Any]]:
    """MDS events of event log rows (``fleet.selectors.city_events_between``), multi-type events split."""
    events = []
    for row in rows:
        types = list(row["event_types"])
        walked = _states_along(states.mds_state(row["previous_status"]), types, row["vehicle_state"])
        if len(types) == 1 or walked is None:
            events.append(_event(row, provider_id, row["id"], row["vehicle_state"], types))
            continue
        for index, (event_type, state) in enumerate(zip(types, walked, strict=True)):
            last = index == len(types) - 1
            event_id = row["id"] if last else uuid.uuid5(row["id"], f"part-{index}")
            events.append(_event(row, provider_id, event_id, state, [event_type]))
    return events


def events_in_hour(*, city_ids: Sequence[uuid.UUID], provider_id: str, start: datetime) -> list[dict[str, Any]]:
    """Every event of the cities with ``start <= timestamp < start + 1 h``, never paginated (MDS)."""
    rows = fleet_selectors.city_events_between(city_ids=city_ids, start=start, end=start + HOUR)
    return mds_events(rows, provider_id=provider_id)

