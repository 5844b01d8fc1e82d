"""Telemetry fixtures: a vehicle with an IoT secret, messages, and a clean pipeline state per test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from fleet import services as fleet_services
from telemetry import storage, streams
from tests.fleet.factories import VehicleFactory

URL = "/api/v1/telemetry"


@pytest.fixture(autouse=True)
def _pipeline_state() -> Iterator[None]:
    # Redis is flushed by the cache fixture of tests/conftest.py; partitions created inside a rolled-back test
    # transaction are gone, so this process must not believe they exist.
    storage._known.clear()
    yield
    storage._known.clear()


@pytest.fixture
def vehicle_secret(db: Any) -> tuple[Any, str]:
    vehicle: Any = VehicleFactory(lat=52.52, lon=13.405, battery_pct=80)
    secret = fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    return vehicle, secret


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def message(seq: int, *, ts: int | None = None, **fields: Any) -> dict[str, Any]:
    return {"seq": seq, "ts": ts if ts is not None else now_ms(), **fields}


def auth(vehicle: Any, secret: str, *, by: str = "code") -> dict[str, Any]:
    identifier = vehicle.code if by == "code" else str(vehicle.id)
    return {"HTTP_AUTHORIZATION": f"Vehicle {identifier}:{secret}"}


def stream_messages() -> int:
    """Messages queued in every shard stream."""
    import msgpack

    total = 0
    for shard in range(streams.shards()):
        entries: Any = streams.client().xrange(streams.stream_key(shard))
        for _, fields in entries:
            total += len(msgpack.unpackb(fields[streams.FIELD], raw=False)[2])
    return total
