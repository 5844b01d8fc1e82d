"""``streams.lock_and_read`` (a drainer's round: rest gate, shard locks, new entries) and ``streams.append`` (the
edges' write): one round trip each, with as few commands as Redis allows."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from telemetry import ingest, streams
from tests.telemetry.conftest import message

TTL_MS = 30_000


@pytest.fixture
def queued(settings: Any) -> dict[int, int]:
    """Three messages in each of shards 0, 1 and 2 (vehicles picked by their shard); shard -> count."""
    settings.TELEMETRY_SHARDS = 4
    streams.ensure_groups()
    counts: dict[int, int] = {}
    while set(counts) != {0, 1, 2} or any(n < 3 for n in counts.values()):
        vehicle_id = uuid.uuid4()
        shard = streams.shard_of(vehicle_id)
        if shard == 3 or counts.get(shard, 0) >= 3:
            continue
        ingest.ingest(vehicle_id, [message(1)])
        counts[shard] = counts.get(shard, 0) + 1
    return counts


def _holder(shard: int) -> bytes | None:
    return streams.client().get(streams.key(f"lock:{shard}"))  # type: ignore[return-value]


def test_locks_every_free_shard_in_order_and_reads_its_new_entries_in_one_round_trip(queued, monkeypatch):
    calls: list[Any] = []
    redis_client = streams.client()
    real = redis_client.execute_command

    def recorded(*args: Any, **options: Any) -> Any:
        calls.append(args[0])
        return real(*args, **options)

    monkeypatch.setattr(redis_client, "execute_command", recorded)
    got = streams.lock_and_read([2, 3, 0, 1], "tok", ttl_ms=TTL_MS, limit=100, consumer="c")
    assert calls == ["EVALSHA"]
    assert list(got.locked) == [2, 3, 0, 1]  # shard 3 is empty but locked all the same (its reclaim may run)
    assert {shard: len(entries) for shard, entries in got.locked.items()} == {2: 3, 3: 0, 0: 3, 1: 3}
    assert all(_holder(shard) == b"tok" for shard in range(4))
    assert not got.gated
    # Read means read: the same entries are not handed out twice.
    again = streams.lock_and_read([0, 1, 2, 3], "other", ttl_ms=TTL_MS, limit=100, consumer="c")
    assert again.locked == {}  # every shard still held by "tok"


def test_a_held_shard_is_skipped_and_the_limit_stops_the_round(queued):
    assert streams.lock("lock:0", "someone", TTL_MS)
    got = streams.lock_and_read([0, 1, 2], "tok", ttl_ms=TTL_MS, limit=3, consumer="c")
    assert {shard: len(entries) for shard, entries in got.locked.items()} == {1: 3}
    assert _holder(0) == b"someone" and _holder(2) is None  # shard 2 was not needed: left for another drainer
    partial = streams.lock_and_read([2], "tok2", ttl_ms=TTL_MS, limit=2, consumer="c")
    assert [len(entries) for entries in partial.locked.values()] == [2]  # COUNT is what is still missing


def test_enough_stops_adding_shards_but_not_a_shards_read(queued):
    got = streams.lock_and_read([0, 1, 2], "tok", ttl_ms=TTL_MS, limit=100, consumer="c", enough=2)
    assert {shard: len(entries) for shard, entries in got.locked.items()} == {0: 3}
    assert _holder(1) is None and _holder(2) is None


def test_the_rest_gate_comes_first(queued):
    first = streams.lock_and_read([0], "a", ttl_ms=TTL_MS, limit=100, consumer="c", gate="rest", gate_ms=5_000)
    assert not first.gated and len(first.locked[0]) == 3
    second = streams.lock_and_read([1, 2], "b", ttl_ms=TTL_MS, limit=100, consumer="c", gate="rest", gate_ms=5_000)
    assert second.gated and 0 < second.gate_wait_ms <= 5_000
    assert second.locked == {} and _holder(1) is None and _holder(2) is None  # nothing locked while gated


def test_a_missing_stream_is_recreated_and_its_shard_comes_back_empty(queued):
    streams.client().delete(streams.stream_key(1))
    got = streams.lock_and_read([1, 2], "tok", ttl_ms=TTL_MS, limit=100, consumer="c")
    assert got.locked[1] == [] and len(got.locked[2]) == 3
    assert streams.client().exists(streams.stream_key(1))  # ensure_groups made the stream and its group again


def test_append_is_one_command_per_shard_and_returns_the_ids_in_the_callers_order(settings, monkeypatch):
    """``streams.append`` (the edges' write): one script call per shard, not one XADD per entry."""
    settings.TELEMETRY_SHARDS = 4
    streams.ensure_groups()
    entries = [(1, b"a"), (0, b"b"), (1, b"c"), (2, b"d"), (0, b"e")]
    calls: list[Any] = []
    real = streams.client().pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = real(*args, **kwargs)
        execute, immediate = pipe.execute, pipe.immediate_execute_command

        def counted(*a: Any, **k: Any) -> Any:
            calls.extend(command[0][0] for command in pipe.command_stack)
            return execute(*a, **k)

        def apart(*a: Any, **k: Any) -> Any:
            # A command sent outside the pipelined batch (redis-py's SCRIPT EXISTS before an EVALSHA): a round trip.
            calls.append(f"apart: {a[0]}")
            return immediate(*a, **k)

        monkeypatch.setattr(pipe, "execute", counted)
        monkeypatch.setattr(pipe, "immediate_execute_command", apart)
        return pipe

    monkeypatch.setattr(streams.client(), "pipeline", counting_pipeline)
    ids = streams.append(entries, {"bad_thing": 2}, accepted=5)
    assert calls == ["EVAL", "EVAL", "EVAL", "HINCRBY", "HINCRBY"]
    stored: dict[int, Any] = {shard: streams.client().xrange(streams.stream_key(shard)) for shard in (0, 1, 2)}
    assert [(entry_id, fields[streams.FIELD]) for entry_id, fields in stored[1]] == [(ids[0], b"a"), (ids[2], b"c")]
    assert [(entry_id, fields[streams.FIELD]) for entry_id, fields in stored[0]] == [(ids[1], b"b"), (ids[4], b"e")]
    assert [entry_id for entry_id, _ in stored[2]] == [ids[3]]
    assert int(streams.client().hget(streams.key("stats"), "accepted") or 0) == 5
    assert int(streams.client().hget(streams.key("rejected"), "bad_thing") or 0) == 2


def test_append_measures_the_backlog_of_the_shards_it_wrote(settings, monkeypatch):
    settings.TELEMETRY_SHARDS = 4
    settings.TELEMETRY_MAX_BACKLOG = 2
    monkeypatch.setattr(streams, "_full_until", 0.0)
    streams.ensure_groups()
    streams.append([(3, b"a"), (3, b"b")])
    assert not streams.backlog_full()  # 2 is not over 2
    streams.append([(1, b"c"), (3, b"d")])
    assert streams.backlog_full()
