"""TELEMETRY_SHARD_REST_MS: after a batch that was not full a shard rests, so its next batch collects messages."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from telemetry import ingest, pipeline, streams
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def vehicle(db: Any) -> Any:
    return VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC), battery_pct=90)


def test_a_shard_rests_after_a_small_batch_then_takes_what_came_meanwhile_in_one_batch(vehicle: Any) -> None:
    streams.ensure_groups()
    shard = streams.shard_of(vehicle.id)
    ingest.ingest(vehicle.id, [message(1, lat=52.51, lon=13.41)])
    assert pipeline.drain_shard(shard, "a", rest_ms=400) == 1
    ingest.ingest(vehicle.id, [message(2, lat=52.52, lon=13.42)])
    ingest.ingest(vehicle.id, [message(3, lat=52.53, lon=13.43)])
    assert pipeline.drain_shard(shard, "b", rest_ms=400) == 0  # resting: no drainer takes the shard
    time.sleep(0.5)
    assert pipeline.drain_shard(shard, "b", rest_ms=400) == 2  # both in one batch
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 3


def test_a_full_batch_or_an_empty_shard_does_not_rest(vehicle: Any, settings: Any) -> None:
    settings.TELEMETRY_BATCH_SIZE = 2
    streams.ensure_groups()
    shard = streams.shard_of(vehicle.id)
    for seq in (1, 2, 3):
        ingest.ingest(vehicle.id, [message(seq, lat=52.51, lon=13.41)])
    assert pipeline.drain_shard(shard, "a", rest_ms=60_000) == 2  # full: a backlog drains at full speed
    assert pipeline.drain_shard(shard, "a", rest_ms=60_000) == 1  # not full: rests from here
    assert pipeline.drain_shard(shard, "a", rest_ms=60_000) == 0
    assert not streams.client().exists(streams.key(f"lock:{(shard + 1) % streams.shards()}"))
    assert pipeline.drain_shard((shard + 1) % streams.shards(), "a", rest_ms=60_000) == 0  # empty: no rest
    assert not streams.client().exists(streams.key(f"lock:{(shard + 1) % streams.shards()}"))


def test_drain_until_empty_never_rests(vehicle: Any, settings: Any) -> None:
    settings.TELEMETRY_SHARD_REST_MS = 60_000
    ingest.ingest(vehicle.id, [message(1, lat=52.51, lon=13.41)])
    assert pipeline.drain_until_empty() == 1
    ingest.ingest(vehicle.id, [message(2, lat=52.52, lon=13.42)])
    assert pipeline.drain_until_empty() == 1


def test_the_drain_loop_rests_shards(vehicle: Any, settings: Any) -> None:
    settings.TELEMETRY_SHARD_REST_MS = 60_000
    ingest.ingest(vehicle.id, [message(1, lat=52.51, lon=13.41)])
    assert pipeline.drain(budget_s=0.3) == 1
    ingest.ingest(vehicle.id, [message(2, lat=52.52, lon=13.42)])
    assert pipeline.drain(budget_s=0.3) == 0  # the shard rests for a minute
    assert streams.client().pttl(streams.key(f"lock:{streams.shard_of(vehicle.id)}")) > 50_000
