"""MDS records built from fleet's rows: ``vehicle``, ``event``, ``telemetry`` (models/*.yaml of MDS 2.0).

Shared by every endpoint that emits one (``/vehicles/status`` embeds an event and a telemetry point, ``/events``
and ``/telemetry`` list them), so a record has one shape everywhere. Datetimes stay datetimes here: the MDS JSON
(``renderers.dumps``) writes them as integer milliseconds. UUIDs are lowercase (``str(uuid)``, orjson).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings

from feeds.mds import events
from feeds.mds.renderers import ms
from fleet.models import Vehicle, VehicleEvent
from fleet.states import TRIP_EVENTS, MdsState, Status

_TRIP_STATES = (MdsState.ON_TRIP, MdsState.ELSEWHERE)
_TRIP_STATUSES = (Status.ON_TRIP, Status.ELSEWHERE)


def provider_id() -> str:
    return settings.MDS_PROVIDER_ID


def telemetry_id(device_id: uuid.UUID, timestamp_ms: int) -> uuid.UUID:
    """The ``telemetry_id`` of a vehicle's reading at ``timestamp_ms``, the same on every endpoint (the history has
    no UUID per reading): the first 96 bits of ``device_id`` and the 48-bit timestamp. ``/telemetry`` builds the
    same id in SQL for millions of points (``telemetry.selectors``), where a hash per point would cost more than the
    rest of the point."""
    return uuid.UUID(f"{str(device_id)[:24]}{timestamp_ms:012x}")


def gps(lat: float, lon: float, **extra: float | None) -> dict[str, Any]:
    """An MDS ``gps`` object; ``extra`` fields (heading, speed in m/s, horizontal_accuracy...) when known."""
    return {"lat": lat, "lng": lon, **{k: v for k, v in extra.items() if v is not None}}


def vehicle(v: Vehicle) -> dict[str, Any]:
    """The MDS ``vehicle``: what rarely changes (type, propulsion, make and model, top speed)."""
    record: dict[str, Any] = {
        "device_id": v.id,
        "provider_id": provider_id(),
        "vehicle_id": v.code,
        "vehicle_type": v.vehicle_type.form_factor,
        "propulsion_types": [v.vehicle_type.propulsion_type],
    }
    attributes = {k: getattr(v.vehicle_type, k) for k in ("make", "model") if getattr(v.vehicle_type, k)}
    if attributes:
        record["vehicle_attributes"] = attributes
    if v.vehicle_type.max_permitted_speed_kph:
        record["maximum_speed"] = v.vehicle_type.max_permitted_speed_kph
    return record


def event_trip_ids(event: VehicleEvent, event_types: list[str]) -> list[uuid.UUID] | None:
    """The trip an event belongs to: on ``trip_*`` events and while on a trip. A reservation's id (the vehicle's
    ``trip_id`` while reserved) is not a trip and is left out."""
    if event.trip_id is None:
        return None
    if TRIP_EVENTS.intersection(event_types) or event.vehicle_state in _TRIP_STATES:
        return [event.trip_id]
    return None


def event(e: VehicleEvent, *, fallback_location: tuple[float, float] | None = None) -> dict[str, Any]:
    """The MDS ``event`` of one log entry. MDS wants a ``location`` (or geographies): an event logged without a
    position takes ``fallback_location`` (the vehicle's last position) when given. A multi-type event
    (``[trip_end, battery_low]``) is its last part as ``/events`` publishes it (``events.last_part``): the
    micromobility schema allows a state only the types that lead to it."""
    event_types = events.last_part(e.previous_status, e.event_types, e.vehicle_state)
    record: dict[str, Any] = {
        "device_id": e.vehicle_id,
        "provider_id": provider_id(),
        "event_id": e.id,
        "vehicle_state": e.vehicle_state,
        "event_types": event_types,
        "timestamp": e.timestamp,
        "publication_time": e.recorded_at,
    }
    if e.lat is not None and e.lon is not None:
        record["location"] = gps(e.lat, e.lon)
    elif fallback_location is not None:
        record["location"] = gps(*fallback_location)
    if e.battery_pct is not None:
        record["battery_percent"] = e.battery_pct
    trip_ids = event_trip_ids(e, event_types)
    if trip_ids:
        record["trip_ids"] = trip_ids
    return record


def vehicle_telemetry(v: Vehicle) -> dict[str, Any]:
    """The MDS ``telemetry`` point of a vehicle's last reported position (``lat`` must be set). ``journey_id`` is
    always null: micromobility trips are point to point (MDS modes/micromobility.md)."""
    assert v.lat is not None and v.lon is not None, "only located vehicles have a telemetry point"
    at = ms(v.position_at or v.updated_at)
    on_trip = v.status in _TRIP_STATUSES and v.trip_id is not None
    speed = None if v.speed_kph is None else round(v.speed_kph / 3.6, 2)
    record: dict[str, Any] = {
        "device_id": v.id,
        "provider_id": provider_id(),
        "telemetry_id": telemetry_id(v.id, at),
        "timestamp": at,
        "trip_ids": [v.trip_id] if on_trip else None,
        "journey_id": None,
        "location": gps(v.lat, v.lon, speed=speed),
    }
    if v.battery_pct is not None:
        record["battery_percent"] = v.battery_pct
    return record
