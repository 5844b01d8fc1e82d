"""The telemetry message: its wire form (JSON or MessagePack) and the parsed ``Reading`` the pipeline works on.

Wire form of one message (every field but ``seq`` and ``ts`` optional)::

    {"seq": 1042, "ts": "2026-11-23T13:00:00.120Z" | 1795438800120 (epoch ms),
     "lat": 52.52, "lon": 13.405, "acc": 4.5, "heading": 270, "speed_kph": 18.2,
     "battery_pct": 81, "locked": false, "odometer_m": 120345,
     "alarms": ["tipped_over", "tamper"],
     "ack": {"correlation_id": "<uuid>", "ok": true, "reason": ""}}

``seq`` increases per vehicle (the unit's own counter); (vehicle, seq) identifies a message, so a repeat is a
duplicate. ``ts`` is the device clock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from fleet.services.readings import VehicleSnapshot

ALARMS = ("tipped_over", "tamper")


@dataclass(frozen=True, slots=True)
class Ack:
    correlation_id: uuid.UUID
    ok: bool
    reason: str = ""


# Not frozen: a frozen dataclass sets every field through object.__setattr__, and a worker builds thousands a
# batch (construction was about a tenth of its time).
@dataclass(slots=True)
class Reading:
    vehicle_id: uuid.UUID
    seq: int
    at: datetime  # device timestamp, aware UTC
    received_at: datetime  # when the edge accepted it, aware UTC (latency is measured from here)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = None
    heading: float | None = None
    speed_kph: float | None = None
    battery_pct: int | None = None
    locked: bool | None = None
    odometer_m: int | None = None
    alarms: tuple[str, ...] = ()
    ack: Ack | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)


# A vehicle as it was before a batch was applied: the fleet's batch update returns it (one statement per batch),
# and reactions compare against it.
VehicleBefore = VehicleSnapshot
