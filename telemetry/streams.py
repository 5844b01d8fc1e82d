"""The Redis side of the pipeline: sharded streams, the consumer group, shard locks and the shared counters.

Keys (``TELEMETRY_STREAM_PREFIX``, default ``telemetry``)::

    <p>:s:<shard>        stream; one entry = messages of ONE vehicle accepted together, field ``m`` (msgpack)
    <p>:dead             entries a batch could not apply twice in a row (inspect, then XADD back or drop)
    <p>:lock:<shard>     the drainer currently owning a shard (SET NX PX): one consumer per shard at a time,
                         so a vehicle's messages are applied in order
    <p>:drainer:<i>      drainer slots (TELEMETRY_DRAINERS long-running drain tasks at most)
    <p>:rejected         hash code -> count of messages the edges refused
    <p>:stats            hash: accepted (by the edges), batches, messages, new, duplicates, late, batch_ms,
                         last_batch, reclaimed, dead
    <p>:latency          hash bucket -> count: accepted -> committed, milliseconds (LATENCY_BUCKETS_MS)
    <p>:rate:<10s slot>  processed messages in that 10-second slot (expires after two minutes)

A vehicle always maps to the same shard (``shard_of``: CRC32 of its UUID), so its messages stay in order.
"""

from __future__ import annotations

import bisect
import os
import socket
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, cast

import redis
from django.conf import settings

GROUP = "workers"
FIELD = b"m"
LATENCY_BUCKETS_MS = (5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000,
                      30_000, 60_000)
_client: redis.Redis | None = None
_client_url: str | None = None


def client() -> redis.Redis:
    """One connection pool per process (redis-py resets it in a forked Celery child)."""
    global _client, _client_url
    if _client is None or _client_url != settings.REDIS_URL:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=30, socket_connect_timeout=5)
        # XREADGROUP's reply as Redis sends it: redis-py's parser builds a dict per entry in Python (pairs_to_dict
        # was a tenth of a drainer's time); read_new takes the one field straight from the list.
        _client.set_response_callback("XREADGROUP", _raw_reply)
        _client_url = settings.REDIS_URL
    return _client


def prefix() -> str:
    return str(settings.TELEMETRY_STREAM_PREFIX)


def shards() -> int:
    return int(settings.TELEMETRY_SHARDS)


def shard_of(vehicle_id: uuid.UUID) -> int:
    return zlib.crc32(vehicle_id.bytes) % shards()


def stream_key(shard: int) -> str:
    return f"{prefix()}:s:{shard}"


def key(name: str) -> str:
    return f"{prefix()}:{name}"


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def ensure_groups() -> None:
    """Create every shard's stream and consumer group (idempotent)."""
    pipe = client().pipeline(transaction=False)
    for shard in range(shards()):
        pipe.xgroup_create(stream_key(shard), GROUP, id="0", mkstream=True)
    for result in pipe.execute(raise_on_error=False):
        if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
            raise result


def append(entries: Sequence[tuple[int, bytes]], rejected: dict[str, int] | None = None,
           accepted: int = 0) -> list[bytes]:
    """XADD each (shard, packed entry), count accepted and rejected messages, in one round trip; returns the
    entry ids."""
    pipe = client().pipeline(transaction=False)
    for shard, packed in entries:
        pipe.xadd(stream_key(shard), {FIELD: packed})
    shards = sorted({shard for shard, _ in entries})
    for shard in shards:  # the backlog, measured in the same round trip (backpressure, see backlog_full)
        pipe.xlen(stream_key(shard))
    if accepted:
        pipe.hincrby(key("stats"), "accepted", accepted)
    for code, count in (rejected or {}).items():
        pipe.hincrby(key("rejected"), code, count)
    results = pipe.execute()
    lengths = results[len(entries): len(entries) + len(shards)]
    if any(int(n) > settings.TELEMETRY_MAX_BACKLOG for n in lengths):
        global _full_until
        _full_until = time.monotonic() + BACKLOG_RETRY_S
    return cast(list[bytes], results[: len(entries)])


BACKLOG_RETRY_S = 1
_full_until = 0.0


def backlog_full() -> bool:
    """Backpressure without a round trip: the last write of this process found a shard stream longer than
    ``TELEMETRY_MAX_BACKLOG`` less than ``BACKLOG_RETRY_S`` ago. The edges refuse new messages until then (the
    next write after it measures again). Entries are acknowledged and deleted after commit, so a stream's length
    is its backlog."""
    return time.monotonic() < _full_until


Entry = tuple[bytes, bytes]  # (stream entry id, packed payload)


def _entries(raw: Any) -> list[Entry]:
    return [(entry_id, fields[FIELD]) for entry_id, fields in raw if fields and FIELD in fields]


def _raw_reply(response: Any, **options: Any) -> Any:
    return response


def _raw_entries(raw: Any) -> list[Entry]:
    """Entries of a raw XREADGROUP reply: ``[[id, [field, value, ...]], ...]``."""
    return [(entry_id, fields[1]) for entry_id, fields in raw if fields and fields[0] == FIELD]


def read_new(shard: int, count: int, consumer: str) -> list[Entry]:
    try:
        response = client().xreadgroup(GROUP, consumer, {stream_key(shard): ">"}, count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        ensure_groups()
        return []
    if not response:
        return []
    reply = cast(Any, response)
    streams_reply = reply.values() if isinstance(reply, dict) else (item[1] for item in reply)  # RESP3 / RESP2
    return _raw_entries(next(iter(streams_reply)))


def claim_stale(shard: int, count: int, consumer: str, min_idle_ms: int) -> tuple[list[Entry], list[bytes]]:
    """XAUTOCLAIM entries another consumer read but never acknowledged (it crashed or stalled).

    Returns (claimed entries, ids of entries deleted from the stream meanwhile, to acknowledge)."""
    try:
        result = client().xautoclaim(stream_key(shard), GROUP, consumer, min_idle_ms, "0-0", count=count)
    except redis.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        ensure_groups()
        return [], []
    claimed = result[1]
    deleted = list(result[2]) if len(result) > 2 else []
    return _entries(claimed), deleted + [entry_id for entry_id, fields in claimed if not fields]


def ack(shard: int, ids: Sequence[bytes]) -> None:
    ack_many({shard: ids})


def ack_many(ids_by_shard: Mapping[int, Sequence[bytes]]) -> None:
    """Acknowledge and delete applied entries of several shards in one round trip."""
    pipe = client().pipeline(transaction=False)
    for shard, ids in ids_by_shard.items():
        if ids:
            pipe.xack(stream_key(shard), GROUP, *ids)
            pipe.xdel(stream_key(shard), *ids)  # applied entries are not needed any more: the stream stays short
    if len(pipe):
        pipe.execute()


def dead_letter(shard: int, entries: Sequence[Entry], reason: str) -> None:
    pipe = client().pipeline(transaction=False)
    for entry_id, packed in entries:
        pipe.xadd(key("dead"), {FIELD: packed, b"shard": shard, b"id": entry_id, b"reason": reason[:500]},
                  maxlen=100_000, approximate=True)
    pipe.hincrby(key("stats"), "dead", len(entries))
    pipe.execute()
    ack(shard, [entry_id for entry_id, _ in entries])


# --- locks ------------------------------------------------------------------------------------------------

_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"""


def lock(name: str, token: str, ttl_ms: int) -> bool:
    return bool(client().set(key(name), token, nx=True, px=ttl_ms))


def release(name: str, token: str) -> None:
    client().eval(_RELEASE, 1, key(name), token)


def release_many(locks: Mapping[str, str]) -> None:
    """Release the locks (name -> token) in one round trip."""
    pipe = client().pipeline(transaction=False)
    for name, token in locks.items():
        pipe.eval(_RELEASE, 1, key(name), token)
    if len(pipe):
        pipe.execute()


def lock_or_ttl(name: str, token: str, ttl_ms: int) -> tuple[bool, int]:
    """``lock``; when it is taken, also how many ms it still has (one round trip)."""
    pipe = client().pipeline(transaction=False)
    pipe.set(key(name), token, nx=True, px=ttl_ms)
    pipe.pttl(key(name))
    acquired, remaining = pipe.execute()
    return bool(acquired), max(0, int(remaining))


# --- counters ---------------------------------------------------------------------------------------------


def record_batch(*, messages: int, new: int, duplicates: int, late: int, batch_ms: float,
                 latencies_ms: Sequence[float], reclaimed: int = 0) -> None:
    """Add one committed batch to the shared counters (one round trip)."""
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for latency in latencies_ms:
        counts[bisect.bisect_left(LATENCY_BUCKETS_MS, latency)] += 1
    names = [str(bound) for bound in LATENCY_BUCKETS_MS] + ["inf"]
    buckets = {name: count for name, count in zip(names, counts, strict=True) if count}
    slot = key(f"rate:{int(time.time()) // 10}")
    pipe = client().pipeline(transaction=False)
    stats = key("stats")
    for name, value in (("batches", 1), ("messages", messages), ("new", new), ("duplicates", duplicates),
                        ("late", late), ("reclaimed", reclaimed)):
        if value:
            pipe.hincrby(stats, name, value)
    pipe.hincrbyfloat(stats, "batch_ms", batch_ms)
    pipe.hset(stats, "last_batch", messages)
    for bucket, count in buckets.items():
        pipe.hincrby(key("latency"), bucket, count)
    pipe.incrby(slot, messages)
    pipe.expire(slot, 120)
    pipe.execute()
