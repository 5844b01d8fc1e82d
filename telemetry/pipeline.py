"""The batch worker: drain the shard streams, apply each batch in ONE transaction, acknowledge after commit.

Per batch (``apply_batch``):

1. decode the entries into ``Reading`` objects, sorted by (vehicle, seq); repeats inside the batch dropped;
2. make sure the day partitions exist (own short transactions, usually a no-op);
3. in one transaction: COPY the rows into the history (a row already stored, i.e. a replayed message, is
   dropped here and nowhere else), write every vehicle's latest state and read its state before, in one
   statement (``fleet.services.readings.vehicles_record_readings``), run ``telemetry.reactions.react`` on the new
   readings;
4. after COMMIT: XACK + XDEL the entries, add the batch to the shared counters.

A crash anywhere before 4 leaves the entries pending in the consumer group. Shard locks are leases
(``TELEMETRY_LEASE_MS``) renewed by the drainer's heartbeat (``streams.Lease``), so a dead drainer's shards are
free within the lease, and the next holder takes its entries over before any newer one and applies them again:
the history's unique key makes that exactly-once for the rows, the reactions and the latest state. A database
error retries the same entries with backoff, taking nothing new, so an outage delays readings without applying
them out of order. A batch that fails twice is split and its bad entries are moved to the dead-letter stream,
so one poisonous entry cannot stop a shard.

``drain`` is the loop a Celery task runs for ``TELEMETRY_DRAIN_SECONDS``: each round (``drain_shards``) locks
every shard it can (one consumer per shard at a time keeps each vehicle's order), reads their new entries into
ONE batch of at most ``TELEMETRY_BATCH_SIZE`` entries and applies it, and sleeps briefly when every shard is
empty. A batch has a fixed cost (CPU in the worker and PostgreSQL); one transaction per shard paid it for every
shard with a few new messages, many times a second. A batch that does not follow a full one starts at most once
per ``TELEMETRY_SHARD_REST_MS`` across all drainers, so messages wait that long for company; a full batch never
waits, so a backlog drains at full speed with the drainers on different shards.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgpack
import redis
from django.conf import settings
from django.db import OperationalError, connection, transaction

from core import push
from fleet.services import readings as fleet_readings
from telemetry import reactions, storage, streams
from telemetry.messages import Ack, Reading, VehicleBefore

logger = logging.getLogger(__name__)

IDLE_SLEEP_S = (0.005, 0.1)  # first and longest pause of an idle drainer (doubling while nothing comes)


@dataclass(slots=True)
class BatchResult:
    entries: int = 0
    messages: int = 0
    new: int = 0
    duplicates: int = 0
    late: int = 0
    corrupt: int = 0


_UUIDS: dict[bytes, uuid.UUID] = {}  # a fleet's ids, parsed once per process (uuid.UUID() is slow Python)


def _uuid(raw: bytes) -> uuid.UUID:
    found = _UUIDS.get(raw)
    if found is None:
        if len(_UUIDS) > 1_000_000:
            _UUIDS.clear()
        found = _UUIDS[raw] = uuid.UUID(bytes=raw)
    return found


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def decode(entries: Sequence[streams.Entry]) -> tuple[list[Reading], list[bytes], int]:
    """The readings of the entries, sorted by (vehicle, seq), each (vehicle, seq) once; the undecodable entry
    ids; the number of messages before duplicates were dropped."""
    readings: dict[tuple[bytes, int], Reading] = {}  # keyed by the id's bytes: cheaper to hash and sort
    corrupt: list[bytes] = []
    count = 0
    for entry_id, packed in entries:
        try:
            vehicle_bytes, received_ms, rows = msgpack.unpackb(packed, raw=False)
            vehicle_id, received_at = _uuid(vehicle_bytes), _ms_to_dt(received_ms)
            count += len(rows)
            for seq, ts_ms, lat, lon, acc, heading, speed, battery, locked, odometer, alarms, ack in rows:
                if (vehicle_bytes, seq) in readings:
                    continue
                readings[(vehicle_bytes, seq)] = Reading(
                    vehicle_id=vehicle_id, seq=seq, at=_ms_to_dt(ts_ms), received_at=received_at, lat=lat,
                    lon=lon, accuracy_m=acc, heading=heading, speed_kph=speed, battery_pct=battery, locked=locked,
                    odometer_m=odometer, alarms=tuple(alarms) if alarms else (),
                    ack=Ack(uuid.UUID(bytes=ack[0]), ack[1], ack[2]) if ack else None,
                )
        except (ValueError, TypeError, msgpack.UnpackException):
            logger.error("telemetry: undecodable stream entry %r moved to the dead letters", entry_id)
            corrupt.append(entry_id)
    return [readings[k] for k in sorted(readings)], corrupt, count


def history_row(r: Reading) -> storage.Row:
    return (r.vehicle_id, r.seq, r.at, r.received_at, r.lat, r.lon, r.accuracy_m, r.heading, r.speed_kph,
            r.battery_pct, r.locked, r.odometer_m, list(r.alarms) or None,
            r.ack.correlation_id if r.ack else None, r.ack.ok if r.ack else None)


def _latest(readings: Sequence[Reading]) -> list[fleet_readings.LatestReading]:
    """Per vehicle, the newest reading of the batch by device time (its position: the newest with one)."""
    newest: dict[uuid.UUID, Reading] = {}
    positioned: dict[uuid.UUID, Reading] = {}
    for r in readings:
        current = newest.get(r.vehicle_id)
        if current is None or r.at >= current.at:
            newest[r.vehicle_id] = r
        if r.lat is not None:
            current = positioned.get(r.vehicle_id)
            if current is None or r.at >= current.at:
                positioned[r.vehicle_id] = r
    latest = []
    for vehicle_id, r in newest.items():
        p = positioned.get(vehicle_id)
        latest.append(fleet_readings.LatestReading(
            vehicle_id=vehicle_id, at=r.at, seen_at=r.received_at, lat=p.lat if p else None,
            lon=p.lon if p else None, position_at=p.at if p else None, battery_pct=r.battery_pct,
            speed_kph=r.speed_kph, odometer_meters=r.odometer_m, locked=r.locked,
        ))
    return latest


def _is_late(r: Reading, before: Mapping[uuid.UUID, VehicleBefore]) -> bool:
    position_at = before[r.vehicle_id].position_at
    return position_at is not None and r.at <= position_at


def apply_batch(shard: int, entries: Sequence[streams.Entry], *, reclaimed: bool = False) -> BatchResult:
    """Apply one shard's entries in one transaction, then acknowledge them (``apply_shards`` of one shard)."""
    return apply_shards({shard: entries}, reclaimed=reclaimed)


def apply_shards(entries_by_shard: Mapping[int, Sequence[streams.Entry]], *, reclaimed: bool | int = False,
                 fence: Callable[[], None] | None = None) -> BatchResult:
    """Apply the entries of one or more shards in ONE transaction, then acknowledge them. Raises (nothing
    acknowledged) on failure. A vehicle's entries are all in one shard, so merging shards keeps each vehicle's
    order; the caller holds every shard's lock. ``fence`` runs just before COMMIT and raises (rolling the batch
    back) when the caller may have lost a lock (``streams.Lease.check``). ``reclaimed``: True when every entry
    was taken over from another consumer, or how many were."""
    started = time.perf_counter()
    readings: list[Reading] = []
    result = BatchResult()
    for shard, entries in entries_by_shard.items():
        shard_readings, corrupt, count = decode(entries)
        readings += shard_readings
        result.entries += len(entries)
        result.messages += count
        result.corrupt += len(corrupt)
        if corrupt:  # stream entry ids are per stream: dead-letter them shard by shard
            bad = set(corrupt)
            streams.dead_letter(shard, [e for e in entries if e[0] in bad], "undecodable")
    if len(entries_by_shard) > 1:
        readings.sort(key=lambda r: (r.vehicle_id.int, r.seq))  # the order decode gives one shard's readings
    storage.ensure_partitions({r.at.date() for r in readings})
    with push.batched(), transaction.atomic():  # the batch's live pushes leave after commit, in one round trip
        skipped = storage.insert_skipping_duplicates([history_row(r) for r in readings])
        new = [r for r in readings if (r.vehicle_id, r.seq) not in skipped] if skipped else readings
        before = fleet_readings.vehicles_record_readings(readings=_latest(new))
        known = [r for r in new if r.vehicle_id in before]  # a deleted vehicle's readings: history only
        result.new, result.duplicates = len(new), result.messages - len(new)
        result.late = sum(1 for r in known if _is_late(r, before))
        if known:
            reactions.react(readings=known, before=before)
        if fence is not None:
            fence()
    committed_ms = time.time() * 1000
    streams.record_batch(  # acknowledges the entries and counts the batch in one round trip
        messages=result.messages, new=result.new, duplicates=result.duplicates, late=result.late,
        batch_ms=(time.perf_counter() - started) * 1000,
        reclaimed=result.entries if reclaimed is True else int(reclaimed),
        latencies_ms=[committed_ms - r.received_at.timestamp() * 1000 for r in new],
        acknowledge={shard: [entry_id for entry_id, _ in entries] for shard, entries in entries_by_shard.items()},
    )
    return result


def _reset_connection() -> None:
    """After a failed batch: drop a broken connection (the next query reconnects). Inside an outer atomic block
    (tests) the connection belongs to the caller."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()


def _apply_or_split(shard: int, entries: Sequence[streams.Entry]) -> int:
    """Reclaimed entries already failed (or their worker died) once: on a second failure apply them one by one
    and dead-letter those that still fail."""
    try:
        return apply_batch(shard, entries, reclaimed=True).messages
    except redis.RedisError:
        raise
    except Exception:  # noqa: BLE001 - any failure: isolate the culprit below
        logger.exception("telemetry: reclaimed batch of %d entries on shard %d failed; splitting", len(entries), shard)
        _reset_connection()
    done = 0
    for entry in entries:
        try:
            done += apply_batch(shard, [entry], reclaimed=True).messages
        except redis.RedisError:  # not the entry's fault either: the caller waits for Redis
            raise
        except OperationalError:
            # Deadlock, lost connection, database down: not the entry's fault. Leave the rest pending.
            logger.exception("telemetry: shard %d: transient database error; retried later", shard)
            _reset_connection()
            return done
        except Exception as exc:  # noqa: BLE001
            logger.exception("telemetry: entry %r on shard %d moved to the dead-letter stream", entry[0], shard)
            _reset_connection()
            streams.dead_letter(shard, [entry], repr(exc))
    return done


def reclaim_shard(shard: int, consumer: str, *, min_idle_ms: int | None = None) -> int:
    """Take over and apply entries another consumer left pending; caller holds the shard lock."""
    idle = settings.TELEMETRY_RECLAIM_IDLE_S * 1000 if min_idle_ms is None else min_idle_ms
    done = 0
    while True:
        entries, gone = streams.claim_stale(shard, settings.TELEMETRY_BATCH_SIZE, consumer, idle)
        streams.ack(shard, gone)
        if not entries:
            return done
        applied = _apply_or_split(shard, entries)
        if not applied:  # a transient error left them pending: the next reclaim tries again
            return done
        done += applied


def drain_shard(shard: int, consumer: str, *, reclaim: bool = False, rest_ms: int = 0) -> int:
    """Apply one batch of ``shard`` if its lock is free; returns the messages applied (``drain_shards`` of one)."""
    return drain_shards([shard], consumer, reclaim=reclaim, rest_ms=rest_ms).messages


@dataclass(slots=True)
class Drained:
    messages: int = 0
    full: bool = False  # the batch reached TELEMETRY_BATCH_ENOUGH: there is a backlog, take the next one at once
    wait_s: float = 0.0  # another drainer started a batch less than rest_ms ago: the next one is due in this long


def drain_shards(shards: Sequence[int], consumer: str, *, reclaim: bool = False, rest_ms: int = 0,
                 after_full: bool = False, lease: streams.Lease | None = None,
                 retry_until: float | None = None) -> Drained:
    """Apply ONE batch made of the entries of every shard in ``shards`` whose lock is free, in that order,
    until the batch holds ``TELEMETRY_BATCH_SIZE`` entries: per shard first the entries a previous holder left
    pending (it died or gave up: its lease expired), then the new ones.

    A batch has a fixed cost in CPU, in the worker and PostgreSQL, that grows far less than its size. One
    transaction per shard paid it for every shard with a few new messages, most of the machine at a steady feed;
    one transaction for every shard that is ready pays it a few times a second. Under a backlog the
    first shard already fills the batch, so drainers take different shards and work in parallel.

    ``rest_ms`` (``TELEMETRY_SHARD_REST_MS``): a batch that is not the continuation of a full one (``after_full``)
    starts at most once per ``rest_ms`` across all drainers (a Redis key set when a batch starts, expiring by
    itself), so messages wait up to that long for company instead of going in a batch each; a backlog (full
    batches) never waits.

    ``TELEMETRY_BATCH_ENOUGH``: a batch adds no further shard once it holds that many entries (a shard's read may
    still bring it up to ``TELEMETRY_BATCH_SIZE``), and counts as full. When the pipeline falls behind, the
    shards it left go to other drainers at once instead of waiting for it, while a steady feed still goes in one
    batch per rest and a deep backlog still drains in batches of ``TELEMETRY_BATCH_SIZE``.

    Shard locks are leases of ``TELEMETRY_LEASE_MS``: ``lease`` (the drain loop's heartbeat) renews them while
    the batch runs and fences its commit (``streams.Lease.check``). A transient database error is retried with
    the same entries (backing off up to ``TELEMETRY_BACKOFF_MAX_MS``, no new entries taken) until ``retry_until``
    (monotonic; None: one retry at once). A batch that still fails keeps its shards until their lease expires,
    so the next holder takes its entries over before any newer one and each vehicle's order holds. A batch with
    taken-over entries that fails otherwise is split and its bad entries dead-lettered (``_apply_or_split``).

    The gate, the shard locks and the reads are one round trip to Redis (``streams.lock_and_read``); applying the
    batch, acknowledging it and releasing the locks are three more."""
    limit = settings.TELEMETRY_BATCH_SIZE
    lease_ms = settings.TELEMETRY_LEASE_MS
    enough = min(limit, settings.TELEMETRY_BATCH_ENOUGH)
    gated = rest_ms > 0 and not after_full
    token = secrets.token_hex(8)
    sent = time.monotonic()
    # The gate, the shard locks, the abandoned and the new entries in ONE round trip (streams.lock_and_read).
    got = streams.lock_and_read(shards, token, ttl_ms=lease_ms, limit=limit, consumer=consumer,
                                gate="rest" if gated else None, gate_ms=rest_ms, enough=enough,
                                claim_idle_ms=lease_ms)
    if got.gated:
        return Drained(wait_s=max(got.gate_wait_ms, 1) / 1000)
    held = got.locked
    names = [f"lock:{s}" for s in held]
    if lease is not None:
        lease.hold(names, token, sent)
    batch: dict[int, list[streams.Entry]] = {shard: entries for shard, entries in held.items() if entries}
    done = 0
    taken = sum(len(entries) for entries in batch.values())
    keep = False  # True: leave the locks to expire, so the next holder takes the entries over first
    try:
        if reclaim:  # entries another consumer left unacknowledged: applied before this round's newer ones
            for shard in held:
                done += reclaim_shard(shard, consumer)
        full = taken >= enough
        fence = (lambda: lease.check(names)) if lease is not None else None
        attempt, pause = 0, 0.0
        while batch:
            attempt += 1
            try:
                result = apply_shards(batch, reclaimed=sum(got.reclaimed.values()), fence=fence)
                return Drained(done + result.messages, full)
            except redis.RedisError:  # Redis away: the drain loop waits for it; a committed batch's entries
                keep = True  # stay pending until the next holder takes them over (duplicates then)
                raise
            except streams.LeaseLost:
                logger.warning("telemetry: lease of shards %s lost during a batch; not committed", sorted(batch))
                _reset_connection()
                keep = True  # not ours any more: never release another holder's lock
                break
            except OperationalError:  # a deadlock with a ride's transaction, a dropped connection, an outage
                logger.warning("telemetry: batch of shards %s: transient database error (attempt %d)", sorted(batch),
                               attempt, exc_info=True)
                _reset_connection()
                if retry_until is None and attempt < 2:
                    continue  # at once, once
                if retry_until is None or time.monotonic() + pause > retry_until:
                    keep = True
                    break
                time.sleep(pause)  # back off with the same entries: nothing newer is taken meanwhile
                pause = min(max(pause * 2, 0.05), settings.TELEMETRY_BACKOFF_MAX_MS / 1000)
            except Exception:  # noqa: BLE001 - isolate the bad entry
                logger.exception("telemetry: batch of %d entries on shards %s failed", taken, sorted(batch))
                _reset_connection()
                if got.reclaimed:  # failed before (or its drainer died on it): split it now
                    for shard, entries in batch.items():
                        done += _apply_or_split(shard, entries)
                else:  # left pending: the next holder takes it over, then splits it if it fails again
                    keep = True
                break
        return Drained(done)
    finally:
        if lease is not None:
            lease.drop(names)
        locks = {} if keep else {name: token for name in names}
        if gated and not batch:
            # A round that found nothing (shards empty, or still held by a batch that ran longer than rest_ms)
            # gives the rest back: the next round may start as soon as there is work.
            locks["rest"] = token
        streams.release_many(locks)


def drain(*, budget_s: float, consumer: str | None = None) -> int:
    """Drain every shard for ``budget_s`` seconds; returns messages applied, or -1 when every drainer slot is
    taken (enough drainers run already).

    The drainer slot and the shard locks are leases (``TELEMETRY_LEASE_MS``) renewed by a heartbeat thread: a
    killed drainer frees them within the lease. Redis errors (a restart) do not end the loop: it backs off and
    goes on, so draining resumes as soon as Redis answers again."""
    consumer = consumer or streams.consumer_name()
    token = secrets.token_hex(8)
    deadline = time.monotonic() + budget_s
    with streams.Lease(settings.TELEMETRY_LEASE_MS) as lease:
        slot = _take_slot(lease, token, deadline)
        if slot is None:
            return -1
        try:
            return _drain_loop(consumer, deadline, lease, slot, token)
        finally:
            lease.drop([slot])
            try:
                streams.release(slot, token)
            except redis.RedisError:  # expires by itself
                logger.warning("telemetry: drainer slot %s not released (Redis unreachable)", slot)


def _take_slot(lease: streams.Lease, token: str, deadline: float) -> str | None:
    """A free drainer slot, held by ``lease``; None when all are taken. Waits out a Redis outage until
    ``deadline``."""
    pause = 0.05
    while True:
        sent = time.monotonic()
        try:
            slot = next((f"drainer:{i}" for i in range(settings.TELEMETRY_DRAINERS)
                         if streams.lock(f"drainer:{i}", token, settings.TELEMETRY_LEASE_MS)), None)
        except redis.RedisError:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("telemetry: Redis unreachable; drainer waits %.2f s", pause)
            time.sleep(pause)
            pause = min(pause * 2, settings.TELEMETRY_BACKOFF_MAX_MS / 1000)
            continue
        if slot is not None:
            lease.hold([slot], token, sent)
        return slot


def _drain_loop(consumer: str, deadline: float, lease: streams.Lease | None = None, slot: str | None = None,
                token: str = "") -> int:
    order = list(range(streams.shards()))
    random.shuffle(order)  # drainers start on different shards
    total = 0
    pause = IDLE_SLEEP_S[0]
    backoff = 0.05
    full = False
    while time.monotonic() < deadline:
        try:
            if lease is not None and slot is not None and slot in lease.lost:
                # The slot expired (Redis was away longer than the lease) and another drainer may have it now.
                sent = time.monotonic()
                if not streams.lock(slot, token, settings.TELEMETRY_LEASE_MS):
                    return total
                lease.hold([slot], token, sent)
            drained = drain_shards(order, consumer, rest_ms=settings.TELEMETRY_SHARD_REST_MS, after_full=full,
                                   lease=lease, retry_until=deadline)
        except redis.RedisError:  # Redis restarting: wait for it instead of ending the drainer
            logger.warning("telemetry: Redis unreachable; drainer retries in %.2f s", backoff, exc_info=True)
            time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
            backoff = min(backoff * 2, settings.TELEMETRY_BACKOFF_MAX_MS / 1000)
            continue
        backoff = 0.05
        order.append(order.pop(0))  # the next round starts at the next shard
        total += drained.messages
        full = drained.full
        if drained.wait_s:  # another drainer's batch started less than rest_ms ago: the next is due then
            time.sleep(min(drained.wait_s, max(0.0, deadline - time.monotonic())) + random.uniform(0, 0.002))
        elif drained.messages:
            pause = IDLE_SLEEP_S[0]
        else:
            time.sleep(pause)
            pause = min(pause * 2, IDLE_SLEEP_S[1])
    return total


def drain_until_empty(*, consumer: str = "inline", reclaim_idle_ms: int | None = None) -> int:
    """Apply everything queued now, in this process (tests, ``telemetry_status --drain``, benchmarks)."""
    streams.ensure_groups()
    total = 0
    while True:
        done = 0
        for shard in range(streams.shards()):
            if reclaim_idle_ms is not None:
                done += reclaim_shard(shard, consumer, min_idle_ms=reclaim_idle_ms)
            done += drain_shard(shard, consumer)
        total += done
        if not done:
            return total


def free_drainer_slots() -> int:
    client = streams.client()
    taken = sum(client.exists(streams.key(f"drainer:{i}")) for i in range(settings.TELEMETRY_DRAINERS))
    return settings.TELEMETRY_DRAINERS - taken


def reclaim_all(*, consumer: str) -> int:
    """``reclaim_shard`` on every shard whose lock is free (the beat ``reclaim``: shards no drainer visits). The
    shard locks are leases like the drainers', so a reclaim killed midway holds no shard longer than one."""
    done = 0
    with streams.Lease(settings.TELEMETRY_LEASE_MS) as lease:
        for shard in range(streams.shards()):
            name, token, sent = f"lock:{shard}", secrets.token_hex(8), time.monotonic()
            if streams.lock(name, token, settings.TELEMETRY_LEASE_MS):
                lease.hold([name], token, sent)
                try:
                    done += reclaim_shard(shard, consumer)
                finally:
                    lease.drop([name])
                    streams.release(name, token)
    return done
