"""core.push.batched: a telemetry batch's pushes leave after commit, together, minus rolled-back savepoints'."""

from __future__ import annotations

import datetime
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.db import transaction

from core import push

pytestmark = pytest.mark.django_db(transaction=True)


def _subscriber(groups: list[str]) -> Any:
    layer = get_channel_layer()
    client = redis.Redis.from_url(layer.publish_url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(*[layer.group_channel(g) for g in groups])
    # redis-py's pubsub subscribes lazily: probe until a message gets through, so the test's own publishes
    # are not lost to a subscription still being set up.
    deadline = time.monotonic() + 5
    while True:
        client.publish(layer.group_channel(groups[0]), b"probe")
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["data"] == b"probe":
            break
        assert time.monotonic() < deadline, "the test subscription did not take"
    while pubsub.get_message(timeout=0.05) is not None:  # drop further probes
        pass
    return layer, pubsub


def _received(layer: Any, pubsub: Any, wait_s: float = 1.0) -> list[dict[str, Any]]:
    got, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.05)
        if message is not None:
            got.append(layer.deserialize(message["data"]))
    return got


def test_pushes_in_a_batch_leave_after_the_block_and_a_rolled_back_savepoint_sends_nothing():
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    layer, pubsub = _subscriber([f"ride.{kept}", f"ride.{dropped}"])
    with push.batched():
        with transaction.atomic():
            push.to_ride(kept, "ride.updated", {"n": 1})
            try:
                with transaction.atomic():
                    push.to_ride(dropped, "ride.updated", {"n": 2})
                    raise RuntimeError("this vehicle's reaction failed")
            except RuntimeError:
                pass
            push.to_ride(kept, "ride.updated", {"n": 3})
        assert _received(layer, pubsub, wait_s=0.3) == []  # committed, but held until the block ends
    got = _received(layer, pubsub)
    assert [m["payload"]["n"] for m in got] == [1, 3]
    assert {m["event"] for m in got} == {"ride.updated"}


def test_a_rolled_back_batch_pushes_nothing():
    ride = uuid.uuid4()
    layer, pubsub = _subscriber([f"ride.{ride}"])
    with pytest.raises(RuntimeError), push.batched(), transaction.atomic():
        push.to_ride(ride, "ride.updated", {"n": 1})
        raise RuntimeError("the batch failed")
    assert _received(layer, pubsub, wait_s=0.5) == []


def test_values_msgpack_cannot_carry_leave_as_json_strings_and_plain_payloads_as_they_are():
    layer = get_channel_layer()
    ride, at = uuid.uuid4(), datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
    rich = {"type": "live.event", "payload": {"ride_id": ride, "at": at, "cost": Decimal("1.50"), "lat": 52.5}}
    assert layer.deserialize(push._serialized(layer, rich))["payload"] == {
        "ride_id": str(ride), "at": "2026-11-23T12:00:00Z", "cost": "1.50", "lat": 52.5}
    plain = {"type": "live.positions", "vehicles": [{"id": str(ride), "lat": 52.5, "battery_pct": 80}]}
    assert push._serialized(layer, plain) == layer.serialize(plain)  # no JSON round trip on the hot path
