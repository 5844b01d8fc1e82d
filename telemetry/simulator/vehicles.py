"""A simulated IoT unit: position on the street grid, battery, lock, alarms, its own ``seq`` counter, and its
answers to commands. Produces wire messages (``telemetry.messages``) without any I/O."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telemetry.simulator.streets import StreetGrid, Walker


@dataclass(slots=True)
class SimVehicle:
    id: uuid.UUID
    code: str
    secret: str
    walker: Walker
    seq: int
    battery: float = 90.0
    locked: bool = True
    riding: bool = False
    remote: bool = False  # commanded by the platform (unlock/lock): no simulated rides of its own
    speed_limit_kph: float = 25.0
    odometer_m: float = 0.0
    last_at: float = field(default_factory=time.time)
    acks: list[dict[str, Any]] = field(default_factory=list)  # answers waiting to be sent


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the simulated fleet behaves (rates per message; defaults give a lively but plausible demo)."""

    moving_share: float = 0.3  # share of vehicles on a (simulated) ride at any time
    speed_kph: tuple[float, float] = (12.0, 22.0)
    drain_pct_per_km: float = 0.25
    alarm_rate: float = 1 / 2000  # per message: tipped_over (4 in 5) or tamper
    swap_below_pct: float = 8.0  # ops swap the battery of a vehicle this empty


def place(grid: StreetGrid, lat: float | None, lon: float | None, rng: random.Random) -> Walker:
    node = grid.nearest(lat, lon) if lat is not None and lon is not None else (0, 0)
    return Walker(node, grid.next_node(node, node, rng), rng.uniform(0, grid.spacing))


def step(vehicle: SimVehicle, grid: StreetGrid, behaviour: Behaviour, rng: random.Random,
         now: float) -> dict[str, Any]:
    """Advance the vehicle to ``now`` and return its next message (seq increments by one)."""
    dt = max(0.0, min(now - vehicle.last_at, 60.0))
    vehicle.last_at = now
    if not vehicle.remote:  # simulated riders start and end rides; about moving_share of the fleet rides
        if not vehicle.riding and rng.random() < behaviour.moving_share * 0.02:
            vehicle.riding = True
        elif vehicle.riding and rng.random() < (1 - behaviour.moving_share) * 0.02:
            vehicle.riding = False
        vehicle.locked = not vehicle.riding
    speed = 0.0
    if vehicle.riding:
        speed = min(rng.uniform(*behaviour.speed_kph), vehicle.speed_limit_kph)
        metres = speed / 3.6 * dt
        vehicle.walker.advance(grid, metres, rng)
        vehicle.odometer_m += metres
        vehicle.battery -= metres / 1000 * behaviour.drain_pct_per_km
    if vehicle.battery < behaviour.swap_below_pct:
        vehicle.battery = 100.0
    lat, lon = vehicle.walker.position(grid)
    if not vehicle.riding:  # GPS noise of a parked unit: a few metres
        lat, lon = lat + rng.gauss(0, 0.00002), lon + rng.gauss(0, 0.00003)
    vehicle.seq += 1
    message: dict[str, Any] = {
        "seq": vehicle.seq, "ts": int(now * 1000), "lat": round(lat, 6), "lon": round(lon, 6),
        "acc": round(rng.uniform(3, 12), 1), "heading": round(grid.heading(vehicle.walker.node, vehicle.walker.target), 1),
        "speed_kph": round(speed, 1), "battery_pct": int(vehicle.battery), "locked": vehicle.locked,
        "odometer_m": int(vehicle.odometer_m),
    }
    if rng.random() < behaviour.alarm_rate:
        message["alarms"] = ["tipped_over" if rng.random() < 0.8 else "tamper"]
    return message


def answer(vehicle: SimVehicle, command: dict[str, Any], now: float) -> dict[str, Any] | None:
    """Carry out a command (``MqttGateway`` payload) and return the ack message; None when it has expired
    (a real unit drops a command that arrives after ``expires_at``)."""
    try:
        expires = datetime.fromisoformat(str(command["expires_at"])).timestamp()
        correlation_id = str(uuid.UUID(str(command["correlation_id"])))
    except (KeyError, ValueError):
        return None
    if expires <= now:
        return None
    kind, params = command.get("kind"), command.get("params") or {}
    if kind in ("unlock", "lock"):  # the platform's rides drive this vehicle from now on
        vehicle.remote = True
        vehicle.riding = vehicle.locked = kind == "unlock"
        vehicle.locked = not vehicle.riding
    elif kind == "set_speed_limit" and isinstance(params.get("max_speed_kph"), int):
        vehicle.speed_limit_kph = float(params["max_speed_kph"])  # 0 immobilises
    vehicle.seq += 1
    return {"seq": vehicle.seq, "ts": int(now * 1000), "locked": vehicle.locked,
            "ack": {"correlation_id": correlation_id, "ok": True, "reason": ""}}
