"""The Redis side of the pipeline: sharded streams, the consumer group, shard locks and the shared counters.

Keys (``TELEMETRY_STREAM_PREFIX``, default ``telemetry``)::

    <p>:s:<shard>        stream; one entry = messages of ONE vehicle accepted together, field ``m`` (msgpack)
    <p>:dead             entries a batch could not apply twice in a row (inspect, then XADD back or drop)
    <p>:lock:<shard>     the drainer currently owning a shard (SET NX PX): one consumer per shard at a time,
                         so a vehicle's messages are applied in order; a lease of TELEMETRY_LEASE_MS renewed
                         by its holder's heartbeat (``Lease``), so a dead holder loses it within the lease
    <p>:drainer:<i>      drainer slots (TELEMETRY_DRAINERS long-running drain tasks at most), leased the same way
    <p>:rejected         hash code -> count of messages the edges refused
    <p>:stats            hash: accepted (by the edges), batches, messages, new, duplicates, late, batch_ms,
                         last_batch, reclaimed, dead
    <p>:latency          hash bucket -> count: accepted -> committed, milliseconds (LATENCY_BUCKETS_MS)
    <p>:rate:<10s slot>  processed messages in that 10-second slot (expires after two minutes)

A vehicle always maps to the same shard (``shard_of``: CRC32 of its UUID), so its messages stay in order.
"""

from __future__ import annotations

import bisect
import logging
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

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


_scripts: dict[str, Any] = {}


def _script(text: str) -> Any:
    """The script registered on this process's client (EVALSHA, loaded again by redis-py after a restart)."""
    redis_client = client()
    found = _scripts.get(text)
    if found is None or found.registered_client is not redis_client:  # REDIS_URL changed: a new client
        found = _scripts[text] = redis_client.register_script(text)
    return found


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


# XADD every entry of one shard and measure the stream's length (the backlog), in one command: an edge's call
# holds entries of many vehicles, and one pipelined XADD each cost redis-py more than the rest of ingest_many.
# KEYS: the stream. ARGV: the field, then the packed entries. Reply: their ids, then the stream's length.
_APPEND = """
local ids = {}
for i = 2, #ARGV do ids[i - 1] = redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[i]) end
ids[#ids + 1] = redis.call('XLEN', KEYS[1])
return ids
"""


def append(entries: Sequence[tuple[int, bytes]], rejected: dict[str, int] | None = None,
           accepted: int = 0) -> list[bytes]:
    """XADD each (shard, packed entry), count accepted and rejected messages, in one round trip and all or
    nothing; returns the entry ids (in the order of ``entries``; a shard's entries keep their order in its
    stream)."""
    positions: dict[int, list[int]] = {}
    for index, (shard, _) in enumerate(entries):
        positions.setdefault(shard, []).append(index)
    # MULTI/EXEC in the same round trip: a connection lost before EXEC reached Redis leaves nothing written (not the
    # first shards of a multi-shard call). Lost after it, the caller sends everything again: duplicates, which the
    # pipeline stores and applies once (history rows are unique by vehicle, seq and ts).
    pipe = client().pipeline(transaction=True)
    for shard, indexes in positions.items():
        # EVAL, not a registered script's EVALSHA: in a pipeline redis-py checks SCRIPT EXISTS first, one more
        # round trip per call; Redis caches the compiled script by its hash either way.
        pipe.eval(_APPEND, 1, stream_key(shard), FIELD, *(entries[i][1] for i in indexes))
    if accepted:
        pipe.hincrby(key("stats"), "accepted", accepted)
    for code, count in (rejected or {}).items():
        pipe.hincrby(key("rejected"), code, count)
    results = pipe.execute()
    ids: list[bytes] = [b""] * len(entries)
    full = False
    for indexes, reply in zip(positions.values(), results, strict=False):
        *shard_ids, length = reply
        for index, entry_id in zip(indexes, shard_ids, strict=True):
            ids[index] = entry_id
        full = full or int(length) > settings.TELEMETRY_MAX_BACKLOG  # backpressure, see backlog_full
    if full:
        global _full_until
        _full_until = time.monotonic() + BACKLOG_RETRY_S
    return ids


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


# One round trip for a drainer's round: the rest gate (when asked), then shard by shard in the given order, lock
# the shard (SET NX PX), take over the entries its previous holder left pending (a holder that died or gave up:
# its lease expired, so they are idle at least ``claim_idle`` ms), then read its new entries (at most ``limit`` in
# all) until the batch holds ``enough``. Taking the old entries first keeps each vehicle's order after a crash.
# A round used to cost two round trips per shard and one for the gate, empty rounds as much; each is a wake-up of
# Redis and of the drainer, which waits for a CPU on a busy machine.
# KEYS: [gate key], then per shard: lock key, stream key. ARGV: token, lock ttl ms, limit, group, consumer,
# gate ms (0: no gate), enough, claim idle ms (-1: claim nothing). Reply: {-1, gate pttl} when the gate is taken,
# else {0, 0, shard position, claimed entries, new entries, ...} for every shard locked (entries {} when none,
# 'NOGROUP' when the stream or its group is missing).
_LOCK_AND_READ = """
local token, ttl, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local group, consumer, gate_ms, enough = ARGV[4], ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local claim_idle = tonumber(ARGV[8])
local first = 1
if gate_ms > 0 then
  if not redis.call('SET', KEYS[1], token, 'NX', 'PX', gate_ms) then
    return {-1, redis.call('PTTL', KEYS[1])}
  end
  first = 2
end
local out, taken = {0, 0}, 0
for i = first, #KEYS, 2 do
  if taken >= enough then break end
  if redis.call('SET', KEYS[i], token, 'NX', 'PX', ttl) then
    local claimed, entries = {}, {}
    if claim_idle >= 0 then
      local got = redis.pcall('XAUTOCLAIM', KEYS[i + 1], group, consumer, claim_idle, '0-0', 'COUNT', limit - taken)
      if type(got) == 'table' and not got.err then
        for _, entry in ipairs(got[2]) do
          if entry[2] then claimed[#claimed + 1] = entry end
        end
        taken = taken + #claimed
      end
    end
    if taken < limit then
      local reply = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', limit - taken,
                                'STREAMS', KEYS[i + 1], '>')
      if type(reply) == 'table' and reply.err then
        entries = 'NOGROUP'
      elseif reply then
        entries = reply[1][2]
        taken = taken + #entries
      end
    end
    out[#out + 1] = (i - first) / 2
    out[#out + 1] = claimed
    out[#out + 1] = entries
  end
end
return out
"""


@dataclass(slots=True)
class Round:
    """What ``lock_and_read`` got: the shards it locked (with ``token``) and their entries, in order (per shard
    the entries taken over from a previous holder first, ``reclaimed`` of them); or, when the rest gate was
    taken, how long it still has (``gate_wait_ms``)."""

    locked: dict[int, list[Entry]]
    gate_wait_ms: int = 0
    gated: bool = False
    reclaimed: dict[int, int] = field(default_factory=dict)


def lock_and_read(order: Sequence[int], token: str, *, ttl_ms: int, limit: int, consumer: str,
                  gate: str | None = None, gate_ms: int = 0, enough: int | None = None,
                  claim_idle_ms: int | None = None) -> Round:
    """Take the rest gate ``gate`` for ``gate_ms`` (when given), then lock each shard of ``order`` that is free,
    take over its entries pending for at least ``claim_idle_ms`` (when given: a lock holder's lease is that long,
    so they belong to a holder that died or gave up) and read its new entries (at most ``limit`` in all), until
    the batch holds ``enough`` (default ``limit``): ONE round trip (``_LOCK_AND_READ``). The caller releases every
    shard in ``Round.locked`` (and the gate) with ``release_many``."""
    keys = [key(gate)] if gate and gate_ms > 0 else []
    for shard in order:
        keys += [key(f"lock:{shard}"), stream_key(shard)]
    args = [token, ttl_ms, limit, GROUP, consumer, gate_ms if gate else 0, min(limit, enough or limit),
            -1 if claim_idle_ms is None else claim_idle_ms]
    reply = cast(list[Any], _script(_LOCK_AND_READ)(keys=keys, args=args))
    if int(reply[0]) == -1:
        return Round({}, gate_wait_ms=max(0, int(reply[1])), gated=True)
    locked: dict[int, list[Entry]] = {}
    reclaimed: dict[int, int] = {}
    missing = False
    for position, claimed, raw in zip(reply[2::3], reply[3::3], reply[4::3], strict=True):
        if raw == b"NOGROUP":
            missing, raw = True, []
        shard = order[int(position)]
        old = _raw_entries(claimed)
        locked[shard] = old + _raw_entries(raw)
        if old:
            reclaimed[shard] = len(old)
    if missing:
        ensure_groups()  # a stream or group was deleted (Redis flushed): recreated for the next round
    return Round(locked, reclaimed=reclaimed)


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
    """Acknowledge and delete applied entries of one shard (a batch's: ``record_batch(acknowledge=...)``)."""
    pipe = client().pipeline(transaction=False)
    _ack_into(pipe, {shard: ids})
    if len(pipe):
        pipe.execute()


def _ack_into(pipe: Any, ids_by_shard: Mapping[int, Sequence[bytes]]) -> None:
    for shard, ids in ids_by_shard.items():
        if ids:
            pipe.xack(stream_key(shard), GROUP, *ids)
            pipe.xdel(stream_key(shard), *ids)  # applied entries are not needed any more: the stream stays short


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


# Renew the leases still held with their token; reply per key: 1 renewed, 0 lost.
_RENEW = """
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


class LeaseLost(Exception):
    """A lock this process held may belong to another one now: do not commit work done under it."""


class Lease:
    """Locks (``SET NX PX`` of ``ttl_ms``) kept while their holder lives: a heartbeat thread renews every held
    lock every third of the lease, in one round trip. A process that dies (SIGKILL) or loses Redis stops renewing,
    and its locks expire within ``ttl_ms``, so another drainer takes its shards and its slot over.

    ``check`` is the fence: it raises ``LeaseLost`` when a lock was lost, or when no renewal has confirmed it for
    a whole lease (the holder cannot know whether it still holds it), so a batch is not committed under it. It
    costs no round trip; work that another holder took over in the meantime is applied twice at worst, which
    the history's unique key makes harmless (the second commit finds duplicates and skips their reactions)."""

    def __init__(self, ttl_ms: int) -> None:
        self.ttl_ms = ttl_ms
        self._held: dict[str, tuple[str, float]] = {}  # name -> (token, valid until, monotonic)
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: set[str] = set()

    def hold(self, names: Sequence[str], token: str, since: float) -> None:
        """Keep renewing ``names`` (taken with ``token`` by a command sent at ``since``, monotonic)."""
        with self._guard:
            for name in names:
                self._held[name] = (token, since + self.ttl_ms / 1000)
                self.lost.discard(name)

    def drop(self, names: Sequence[str]) -> None:
        """Stop renewing ``names`` (released, or left to expire)."""
        with self._guard:
            for name in names:
                self._held.pop(name, None)

    def check(self, names: Sequence[str]) -> None:
        now = time.monotonic()
        with self._guard:
            for name in names:
                held = self._held.get(name)
                if held is None or name in self.lost or now >= held[1]:
                    raise LeaseLost(name)

    def renew(self) -> None:
        """One round trip: extend every held lock that is still ours; mark the others lost."""
        with self._guard:
            held = dict(self._held)
        if not held:
            return
        sent = time.monotonic()
        reply = cast(list[Any], _script(_RENEW)(keys=[key(name) for name in held],
                                                args=[self.ttl_ms, *(token for token, _ in held.values())]))
        with self._guard:
            for (name, (token, _)), ok in zip(held.items(), reply, strict=True):
                current = self._held.get(name)
                if current is None or current[0] != token:
                    continue  # dropped (or taken again) meanwhile
                if int(ok):
                    self._held[name] = (token, sent + self.ttl_ms / 1000)
                else:
                    self.lost.add(name)
                    del self._held[name]

    def __enter__(self) -> Lease:
        self._thread = threading.Thread(target=self._beat, name="telemetry-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:  # a renewal stuck on an unreachable Redis must not hold the drainer up
            self._thread.join(self.ttl_ms / 1000)

    def _beat(self) -> None:
        while not self._stop.wait(self.ttl_ms / 3000):
            try:
                self.renew()
            except redis.RedisError:
                logger.warning("telemetry: lease renewal failed (Redis unreachable); retried", exc_info=True)


# --- counters ---------------------------------------------------------------------------------------------


def record_batch(*, messages: int, new: int, duplicates: int, late: int, batch_ms: float,
                 latencies_ms: Sequence[float], reclaimed: int = 0,
                 acknowledge: Mapping[int, Sequence[bytes]] | None = None) -> None:
    """Add one committed batch to the shared counters (one round trip); ``acknowledge``: first acknowledge and
    delete those entries (shard -> ids, as ``ack``) in the same round trip."""
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for latency in latencies_ms:
        counts[bisect.bisect_left(LATENCY_BUCKETS_MS, latency)] += 1
    names = [str(bound) for bound in LATENCY_BUCKETS_MS] + ["inf"]
    buckets = {name: count for name, count in zip(names, counts, strict=True) if count}
    slot = key(f"rate:{int(time.time()) // 10}")
    pipe = client().pipeline(transaction=False)
    _ack_into(pipe, acknowledge or {})
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
