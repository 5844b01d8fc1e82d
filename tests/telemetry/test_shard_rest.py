"""TELEMETRY_SHARD_REST_MS: batches start at most once per rest across drainers (unless a backlog fills them), and
one batch takes every shard that is ready, so a batch collects messages instead of paying its fixed cost per few."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from telemetry import ingest, pipeline, status, streams
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


def test_a_backlog_never_waits_and_no_shard_stays_locked(vehicle: Any, settings: Any) -> None:
    settings.TELEMETRY_BATCH_SIZE = 2
    streams.ensure_groups()
    shard = streams.shard_of(vehicle.id)
    for seq in (1, 2, 3):
        ingest.ingest(vehicle.id, [message(seq, lat=52.51, lon=13.41)])
    first = pipeline.drain_shards([shard], "a", rest_ms=60_000)
    assert (first.messages, first.full) == (2, True)
    assert not streams.client().exists(streams.key(f"lock:{shard}"))  # released at once
    after = pipeline.drain_shards([shard], "a", rest_ms=60_000, after_full=True)  # a backlog drains at full speed
    assert (after.messages, after.full) == (1, False)
    ingest.ingest(vehicle.id, [message(4, lat=52.51, lon=13.41)])
    gated = pipeline.drain_shards([shard], "b", rest_ms=60_000)  # not after a full batch: waits for the rest
    assert gated.messages == 0 and 50 < gated.wait_s <= 60


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
    assert streams.client().pttl(streams.key("rest")) > 50_000


def _on_two_shards() -> tuple[Any, Any]:
    first: Any = VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC))
    while True:
        other: Any = VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC))
        if streams.shard_of(other.id) != streams.shard_of(first.id):
            return first, other


def test_the_shards_that_are_ready_go_in_one_batch(db: Any) -> None:
    a, b = _on_two_shards()
    streams.ensure_groups()
    ingest.ingest(a.id, [message(1, lat=52.51, lon=13.41), message(2, lat=52.52, lon=13.42)])
    ingest.ingest(b.id, [message(1, lat=52.53, lon=13.43)])
    shards = [streams.shard_of(a.id), streams.shard_of(b.id)]
    assert pipeline.drain_shards(shards, "a", rest_ms=60_000).messages == 3
    assert status.snapshot()["stats"]["batches"] == 1  # one transaction, one fixed cost
    assert HistoryPoint.objects.count() == 3
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.lat, b.lat) == (52.52, 52.53)
    assert status.snapshot()["pending"] == 0  # both shards acknowledged
    assert not any(streams.client().exists(streams.key(f"lock:{shard}")) for shard in shards)
    assert streams.client().pttl(streams.key("rest")) > 50_000  # the next batch waits for company


def test_a_full_batch_takes_no_more_shards(db: Any, settings: Any) -> None:
    settings.TELEMETRY_BATCH_SIZE = 2
    a, b = _on_two_shards()
    streams.ensure_groups()
    for seq in (1, 2, 3):
        ingest.ingest(a.id, [message(seq, lat=52.51, lon=13.41)])
    ingest.ingest(b.id, [message(1, lat=52.53, lon=13.43)])
    shard_a, shard_b = streams.shard_of(a.id), streams.shard_of(b.id)
    # Under a backlog the first shard fills the batch; the other stays free for another drainer.
    taken = pipeline.drain_shards([shard_a, shard_b], "a", rest_ms=60_000)
    assert (taken.messages, taken.full) == (2, True)
    assert streams.client().xlen(streams.stream_key(shard_b)) == 1  # never read: free for another drainer
    assert pipeline.drain_shards([shard_b, shard_a], "b", after_full=True).messages == 2  # b's one + a's last
    assert HistoryPoint.objects.count() == 4


def test_a_batch_that_holds_enough_adds_no_more_shards_and_counts_as_full(db: Any, settings: Any) -> None:
    """TELEMETRY_BATCH_ENOUGH: the pipeline fell behind; the shards a big batch leaves go to other drainers at once."""
    settings.TELEMETRY_BATCH_SIZE, settings.TELEMETRY_BATCH_ENOUGH = 100, 3
    a, b = _on_two_shards()
    streams.ensure_groups()
    for seq in (1, 2, 3, 4):
        ingest.ingest(a.id, [message(seq, lat=52.51, lon=13.41)])
    ingest.ingest(b.id, [message(1, lat=52.53, lon=13.43)])
    shard_a, shard_b = streams.shard_of(a.id), streams.shard_of(b.id)
    taken = pipeline.drain_shards([shard_a, shard_b], "a", rest_ms=60_000)
    assert (taken.messages, taken.full) == (4, True)  # the shard's read is not cut at 3: up to the batch size
    assert streams.client().xlen(streams.stream_key(shard_b)) == 1  # not taken
    other = pipeline.drain_shards([shard_b], "b", rest_ms=60_000, after_full=True)  # another drainer, no rest
    assert (other.messages, other.full) == (1, False)
    assert HistoryPoint.objects.count() == 5


def test_an_undecodable_entry_is_dead_lettered_in_its_own_shard(db: Any) -> None:
    a, b = _on_two_shards()
    streams.ensure_groups()
    shard_a, shard_b = streams.shard_of(a.id), streams.shard_of(b.id)
    streams.client().xadd(streams.stream_key(shard_a), {streams.FIELD: b"\xc1not msgpack"})
    ingest.ingest(b.id, [message(1, lat=52.53, lon=13.43)])
    assert pipeline.drain_shards([shard_a, shard_b], "a").messages == 1
    assert HistoryPoint.objects.filter(vehicle_id=b.id).count() == 1
    dead: Any = streams.client().xrange(streams.key("dead"))
    assert [int(fields[b"shard"]) for _, fields in dead] == [shard_a]
    assert status.snapshot()["pending"] == 0
