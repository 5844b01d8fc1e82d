"""One pass over a batch's readings: what each vehicle said, with late readings kept apart.

A reading is *fresh* when its device time is after everything the vehicle reported before (``before.position_at``)
and after the fresh readings before it in the batch; only fresh readings move the vehicle (geofence, battery,
live position). A late reading with a position still goes into the ride's track, at its place in device time
(``late_fixes``): a reading delayed by an outage must not shorten the ride. Alarms and command acks count
whenever they arrive.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from telemetry.messages import Ack, Reading, VehicleBefore

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class VehicleBatch:
    before: VehicleBefore
    watermark: datetime
    fixes: list[Reading] = field(default_factory=list)  # fresh readings with a position, in time order
    newest: Reading | None = None  # newest fresh reading
    battery_pct: int | None = None  # newest fresh battery level
    alarms: set[str] = field(default_factory=set)
    acks: list[tuple[Ack, Reading]] = field(default_factory=list)
    received_at: datetime = _EPOCH
    late: int = 0
    late_fixes: list[Reading] = field(default_factory=list)  # late readings with a position
    status: str = ""  # the status after the reactions (live payload); starts as before.status

    @property
    def vehicle_id(self) -> uuid.UUID:
        return self.before.vehicle_id


def summarise(readings: Sequence[Reading], before: Mapping[uuid.UUID, VehicleBefore]) -> dict[uuid.UUID, VehicleBatch]:
    """Group the batch by vehicle (readings of a vehicle not in ``before`` are skipped: it no longer exists)."""
    out: dict[uuid.UUID, VehicleBatch] = {}
    current: VehicleBatch | None = None
    current_id: uuid.UUID | None = None
    for reading in readings:
        vehicle_id = reading.vehicle_id
        # Sorted by vehicle: the vehicle changes once per vehicle, not per reading (identity first: the worker
        # parses each vehicle id once, so the comparison rarely needs UUID.__eq__).
        if vehicle_id is not current_id and vehicle_id != current_id:
            current_id = vehicle_id
            current = out.get(vehicle_id)
            if current is None:
                state = before.get(vehicle_id)
                if state is None:
                    continue
                current = out[vehicle_id] = VehicleBatch(state, state.position_at or _EPOCH, status=state.status)
        if current is None:
            continue
        if reading.at > current.watermark:
            current.watermark = reading.at
            current.newest = reading
            if reading.lat is not None and reading.lon is not None:
                current.fixes.append(reading)
            if reading.battery_pct is not None:
                current.battery_pct = reading.battery_pct
        else:
            current.late += 1
            if reading.lat is not None and reading.lon is not None:
                current.late_fixes.append(reading)
        if reading.alarms:
            current.alarms.update(reading.alarms)
        if reading.ack is not None:
            current.acks.append((reading.ack, reading))
        if reading.received_at > current.received_at:
            current.received_at = reading.received_at
    return out
