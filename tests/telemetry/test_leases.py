"""Shard locks and drainer slots are leases (TELEMETRY_LEASE_MS) renewed while their holder lives: a dead holder
loses them within the lease, the next holder applies the entries it left before any newer one, a batch whose lease
was lost does not commit, and a database error is retried with the same entries (docs/telemetry.md)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import OperationalError, connection

from telemetry import ingest, pipeline, status, storage, streams
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms

LEASE_MS = 300


@pytest.fixture(autouse=True)
def _short_lease(settings: Any) -> None:
    settings.TELEMETRY_LEASE_MS = LEASE_MS


@pytest.fixture
def vehicle(db: Any) -> Any:
    return VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC), battery_pct=90)


def send(vehicle: Any, seq: int, t: int) -> None:
    assert ingest.ingest(vehicle.id, [message(seq, ts=t, lat=52.5 + seq / 1000, lon=13.4)]).accepted == 1


def _lock_ttl_ms(shard: int) -> int:
    return int(streams.client().pttl(streams.key(f"lock:{shard}")))


def test_a_dead_drainers_shard_is_free_within_the_lease_and_its_entries_go_first(vehicle: Any) -> None:
    t = now_ms()
    send(vehicle, 1, t - 2000)
    shard = streams.shard_of(vehicle.id)
    streams.ensure_groups()
    # A drainer's round, then the drainer dies (SIGKILL): its lock is never released, its entry never applied.
    got = streams.lock_and_read([shard], "dead", ttl_ms=LEASE_MS, limit=100, consumer="dead-drainer")
    assert len(got.locked[shard]) == 1
    send(vehicle, 2, t - 1000)  # a newer message of the same vehicle meanwhile
    assert pipeline.drain_shard(shard, "alive") == 0  # the shard is still held
    time.sleep(LEASE_MS / 1000 + 0.05)
    assert pipeline.drain_shard(shard, "alive") == 2  # lease over: the dead one's entry first, then the new one
    assert list(HistoryPoint.objects.filter(vehicle_id=vehicle.id).order_by("seq").values_list("seq", flat=True)) == [
        1, 2]
    snap = status.snapshot()
    assert (snap["pending"], snap["backlog"], snap["stats"]["reclaimed"], snap["stats"].get("late", 0)) == (0, 0, 1, 0)
    vehicle.refresh_from_db()
    assert vehicle.position_at == datetime.fromtimestamp((t - 1000) / 1000, UTC)


def test_a_live_holder_keeps_its_locks_past_the_lease_and_a_dead_one_loses_them(db: Any) -> None:
    streams.ensure_groups()
    with streams.Lease(LEASE_MS) as lease:
        assert streams.lock("lock:0", "me", LEASE_MS)
        lease.hold(["lock:0"], "me", time.monotonic())
        time.sleep(3 * LEASE_MS / 1000)
        assert streams.client().get(streams.key("lock:0")) == b"me"  # renewed by the heartbeat
        lease.check(["lock:0"])
        assert 0 < _lock_ttl_ms(0) <= LEASE_MS
    time.sleep(LEASE_MS / 1000 + 0.05)  # the heartbeat stopped, as in a killed process
    assert not streams.client().exists(streams.key("lock:0"))


def test_a_batch_whose_lease_was_lost_rolls_back_and_leaves_the_new_holder_alone(vehicle: Any,
                                                                                  monkeypatch: Any) -> None:
    send(vehicle, 1, now_ms())
    shard = streams.shard_of(vehicle.id)
    streams.ensure_groups()
    real = storage.insert_skipping_duplicates

    def stalled(rows: Any) -> Any:
        # The batch stalls past its lease (its heartbeat could not renew): another drainer took the shard.
        streams.client().set(streams.key(f"lock:{shard}"), "other", px=10_000)
        lease.renew()
        return real(rows)

    monkeypatch.setattr(storage, "insert_skipping_duplicates", stalled)
    with streams.Lease(LEASE_MS) as lease:
        drained = pipeline.drain_shards([shard], "me", lease=lease)
    assert drained.messages == 0
    assert not HistoryPoint.objects.filter(vehicle_id=vehicle.id).exists()  # rolled back, not committed
    assert streams.client().get(streams.key(f"lock:{shard}")) == b"other"  # not released: not ours any more
    assert status.snapshot()["pending"] == 1  # the new holder takes it over


def test_two_drainers_applying_the_same_entries_at_once_store_and_react_once(transactional_db: Any) -> None:
    """The fence is not atomic with COMMIT: a drainer may still commit a batch that the next holder of its shard
    also applies. The history's unique key makes the second a batch of duplicates."""
    vehicle: Any = VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC))
    t = now_ms()
    for seq in range(5):
        send(vehicle, seq, t - 5000 + seq * 1000)
    shard = streams.shard_of(vehicle.id)
    streams.ensure_groups()
    entries = streams.read_new(shard, 100, "first")
    results: list[pipeline.BatchResult] = []
    start = threading.Barrier(2)

    def apply() -> None:
        try:
            start.wait()
            results.append(pipeline.apply_batch(shard, entries))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted((r.new, r.duplicates) for r in results) == [(0, 5), (5, 0)]
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 5
    snap = status.snapshot()
    assert (snap["stats"]["new"], snap["stats"]["duplicates"], snap["pending"]) == (5, 5, 0)


def test_a_database_error_retries_the_same_entries_with_backoff_and_takes_no_newer_one(vehicle: Any,
                                                                                      monkeypatch: Any) -> None:
    t = now_ms()
    send(vehicle, 1, t - 2000)
    shard = streams.shard_of(vehicle.id)
    real, calls = storage.insert_skipping_duplicates, []

    def outage(rows: Any) -> Any:
        calls.append([row[1] for row in rows])
        if len(calls) == 1:
            send(vehicle, 2, t - 1000)  # arrives during the outage
        if len(calls) <= 4:
            raise OperationalError("the database system is shutting down")
        return real(rows)

    monkeypatch.setattr(storage, "insert_skipping_duplicates", outage)
    streams.ensure_groups()
    with streams.Lease(LEASE_MS) as lease:
        drained = pipeline.drain_shards([shard], "me", lease=lease, retry_until=time.monotonic() + 10)
    assert drained.messages == 1
    assert calls == [[1]] * 5  # the same entry each time: the newer one waits
    assert pipeline.drain_until_empty() == 1
    assert status.snapshot()["stats"].get("late", 0) == 0


def test_a_batch_failing_past_its_retries_keeps_its_shard_until_the_lease_ends(vehicle: Any,
                                                                              monkeypatch: Any) -> None:
    t = now_ms()
    send(vehicle, 1, t - 2000)
    shard = streams.shard_of(vehicle.id)

    def down(rows: Any) -> Any:
        raise OperationalError("connection refused")

    monkeypatch.setattr(storage, "insert_skipping_duplicates", down)
    streams.ensure_groups()
    assert pipeline.drain_shards([shard], "me", retry_until=time.monotonic() + 0.2).messages == 0
    monkeypatch.undo()
    send(vehicle, 2, t - 1000)
    assert 0 < _lock_ttl_ms(shard) <= LEASE_MS  # not released: nobody reads the newer message before it
    assert pipeline.drain_shard(shard, "other") == 0
    time.sleep(LEASE_MS / 1000 + 0.05)
    assert pipeline.drain_shard(shard, "other") == 2
    assert status.snapshot()["stats"].get("late", 0) == 0


def test_the_beat_reclaim_does_not_queue_behind_the_drain_tasks() -> None:
    from django.conf import settings as django_settings

    from config.celery import app

    def queue(name: str) -> str:
        return str(app.amqp.router.route({}, name)["queue"].name)

    assert queue("telemetry.tasks.reclaim") == django_settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue("telemetry.tasks.drain") == queue("telemetry.tasks.drain_kick") == django_settings.TELEMETRY_QUEUE


def test_the_beat_reclaim_applies_what_a_dead_consumer_left_and_leases_its_shards(vehicle: Any, settings: Any,
                                                                                  monkeypatch: Any) -> None:
    settings.TELEMETRY_RECLAIM_IDLE_S = 1
    send(vehicle, 1, now_ms())
    shard = streams.shard_of(vehicle.id)
    streams.ensure_groups()
    streams.read_new(shard, 10, "dead")
    ttls: list[int] = []
    real = storage.insert_skipping_duplicates

    def observed(rows: Any) -> Any:
        ttls.append(_lock_ttl_ms(shard))
        return real(rows)

    monkeypatch.setattr(storage, "insert_skipping_duplicates", observed)
    assert pipeline.reclaim_all(consumer="beat") == 0  # not idle long enough yet
    time.sleep(1.05)
    assert pipeline.reclaim_all(consumer="beat") == 1
    assert 0 < ttls[0] <= LEASE_MS  # a lease, not TELEMETRY_RECLAIM_IDLE_S
    assert not streams.client().exists(streams.key(f"lock:{shard}"))
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 1
