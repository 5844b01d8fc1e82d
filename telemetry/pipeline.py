"""The batch worker: drain the shard streams, apply each batch in ONE transaction, acknowledge after commit.

Per batch (``apply_batch``):

1. decode the entries into ``Reading`` objects, sorted by (vehicle, seq); repeats inside the batch dropped;
2. make sure the day partitions exist (own short transactions, usually a no-op);
3. in one transaction: COPY the rows into the history (a row already stored, i.e. a replayed message, is
   dropped here and nowhere else), write every vehicle's latest state and read its state before, in one
   statement (``fleet.services.readings.vehicles_record_readings``), run ``telemetry.reactions.react`` on the new
   readings;
4. after COMMIT: XACK + XDEL the entries, add the batch to the shared counters.

A crash anywhere before 4 leaves the entries pending in the consumer group; ``reclaim`` takes them over after
``TELEMETRY_RECLAIM_IDLE_S`` and applies them again: the history's unique key makes that exactly-once for the
rows, the reactions and the latest state. A batch that fails twice is split and its bad entries are moved to
the dead-letter stream, so one poisonous entry cannot stop a shard.

``drain`` is the loop a Celery task runs for ``TELEMETRY_DRAIN_SECONDS``: it visits every shard it can lock
(one consumer per shard at a time keeps each vehicle's order), reads up to ``TELEMETRY_BATCH_SIZE`` entries,
applies them, and sleeps briefly when every shard is empty. After a batch that was not full the shard rests
``TELEMETRY_SHARD_REST_MS`` (its lock is kept that long): at a steady rate six drainers otherwise take a shard's
batch as soon as a few messages are in it, and a batch's fixed cost (about 8 statements, reactions, round trips)
paid 150 times a second for ~34 messages each took 1.4 of 2 cores at 5,000 msgs/s. A full batch never rests, so
a backlog drains at full speed; the rest only bounds how often a shard's batch runs, batches grow with the rate.
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
from types import ModuleType

import msgpack
from django.conf import settings
from django.db import OperationalError, connection, transaction

from fleet.services import readings as fleet_readings
from live import push
from telemetry import storage, streams
from telemetry.messages import Ack, Reading, VehicleBefore

logger = logging.getLogger(__name__)

IDLE_SLEEP_S = (0.005, 0.1)  # first and longest pause of an idle drainer (doubling while nothing comes)
_reactions: ModuleType | None | bool = False  # False: not looked up yet


@dataclass(slots=True)
class BatchResult:
    entries: int = 0
    messages: int = 0
    new: int = 0
    duplicates: int = 0
    late: int = 0
    corrupt: int = 0


def _react_function() -> Callable[..., dict[str, int]] | None:
    """``telemetry.reactions.react`` (REACT's module), looked up once per process."""
    global _reactions
    if _reactions is False:
        try:
            from telemetry import reactions
        except ImportError:  # pragma: no cover - until the reactions module lands
            logger.warning("telemetry.reactions is missing: batches are stored without business reactions")
            _reactions = None
        else:
            _reactions = reactions
    return getattr(_reactions, "react", None) if isinstance(_reactions, ModuleType) else None


_UUIDS: dict[bytes, uuid.UUID] = {}  # a fleet's ids, parsed once per process (uuid.UUID() costs ~2 us)


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


def _row(r: Reading) -> storage.Row:
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
    """Apply the entries in one transaction, then acknowledge them. Raises (nothing acknowledged) on failure."""
    started = time.perf_counter()
    readings, corrupt, count = decode(entries)
    result = BatchResult(entries=len(entries), messages=count, corrupt=len(corrupt))
    if corrupt:
        streams.dead_letter(shard, [e for e in entries if e[0] in set(corrupt)], "undecodable")
    storage.ensure_partitions({r.at.date() for r in readings})
    with push.batched(), transaction.atomic():  # the batch's live pushes leave after commit, in one round trip
        skipped = storage.insert_skipping_duplicates([_row(r) for r in readings])
        new = [r for r in readings if (r.vehicle_id, r.seq) not in skipped] if skipped else readings
        before = fleet_readings.vehicles_record_readings(readings=_latest(new))
        known = [r for r in new if r.vehicle_id in before]  # a deleted vehicle's readings: history only
        result.new, result.duplicates = len(new), count - len(new)
        result.late = sum(1 for r in known if _is_late(r, before))
        react = _react_function()
        if react is not None and known:
            react(readings=known, before=before)
    committed_ms = time.time() * 1000
    streams.ack(shard, [entry_id for entry_id, _ in entries])
    streams.record_batch(
        messages=result.messages, new=result.new, duplicates=result.duplicates, late=result.late,
        batch_ms=(time.perf_counter() - started) * 1000, reclaimed=len(entries) if reclaimed else 0,
        latencies_ms=[committed_ms - r.received_at.timestamp() * 1000 for r in new],
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
    except Exception:  # noqa: BLE001 - any failure: isolate the culprit below
        logger.exception("telemetry: reclaimed batch of %d entries on shard %d failed; splitting", len(entries), shard)
        _reset_connection()
    done = 0
    for entry in entries:
        try:
            done += apply_batch(shard, [entry], reclaimed=True).messages
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
    """Apply one batch of ``shard`` if its lock is free; returns the messages applied.

    ``rest_ms``: after a batch that was not full, the shard's lock is kept that long instead of released, so no
    drainer takes the shard's next batch before (see ``TELEMETRY_SHARD_REST_MS``)."""
    token = secrets.token_hex(8)
    ttl_ms = settings.TELEMETRY_RECLAIM_IDLE_S * 1000
    if not streams.lock(f"lock:{shard}", token, ttl_ms):
        return 0
    rest = False
    try:
        done = reclaim_shard(shard, consumer) if reclaim else 0
        entries = streams.read_new(shard, settings.TELEMETRY_BATCH_SIZE, consumer)
        rest = rest_ms > 0 and 0 < len(entries) < settings.TELEMETRY_BATCH_SIZE
        for attempt in (1, 2) if entries else ():
            try:
                return done + apply_batch(shard, entries).messages
            except OperationalError:  # a deadlock with a ride's transaction, a dropped connection: once more now
                logger.warning("telemetry: batch on shard %d: transient database error (attempt %d)", shard, attempt,
                               exc_info=True)
                _reset_connection()
            except Exception:  # noqa: BLE001 - left pending: reclaim retries it, then isolates the bad entry
                logger.exception("telemetry: batch of %d entries on shard %d failed", len(entries), shard)
                _reset_connection()
                break
        return done
    finally:
        if rest:  # the lock expires in rest_ms: the shard's next batch collects that long
            streams.refresh(f"lock:{shard}", token, rest_ms)
        else:
            streams.release(f"lock:{shard}", token)


def drain(*, budget_s: float, consumer: str | None = None) -> int:
    """Drain every shard for ``budget_s`` seconds; returns messages applied, or -1 when every drainer slot is
    taken (enough drainers run already)."""
    consumer = consumer or streams.consumer_name()
    token = secrets.token_hex(8)
    slot_ttl_ms = int((budget_s + settings.TELEMETRY_RECLAIM_IDLE_S) * 1000)
    slot = next((f"drainer:{i}" for i in range(settings.TELEMETRY_DRAINERS)
                 if streams.lock(f"drainer:{i}", token, slot_ttl_ms)), None)
    if slot is None:
        return -1
    try:
        return _drain_loop(consumer, time.monotonic() + budget_s)
    finally:
        streams.release(slot, token)


def _drain_loop(consumer: str, deadline: float) -> int:
    order = list(range(streams.shards()))
    random.shuffle(order)  # drainers start on different shards
    next_reclaim = 0.0
    total = 0
    pause = IDLE_SLEEP_S[0]
    while time.monotonic() < deadline:
        reclaim = time.monotonic() >= next_reclaim
        if reclaim:
            next_reclaim = time.monotonic() + settings.TELEMETRY_RECLAIM_IDLE_S / 2
        done = sum(drain_shard(shard, consumer, reclaim=reclaim, rest_ms=settings.TELEMETRY_SHARD_REST_MS)
                   for shard in order)
        total += done
        if done:
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
    """``reclaim_shard`` on every shard whose lock is free."""
    done = 0
    ttl_ms = settings.TELEMETRY_RECLAIM_IDLE_S * 1000
    for shard in range(streams.shards()):
        token = secrets.token_hex(8)
        if streams.lock(f"lock:{shard}", token, ttl_ms):
            try:
                done += reclaim_shard(shard, consumer)
            finally:
                streams.release(f"lock:{shard}", token)
    return done
