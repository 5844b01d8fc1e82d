"""``ingest``: the one entry of both edges (HTTP view, MQTT bridge) into the pipeline.

Validates each message cheaply, packs the good ones of the call into ONE stream entry on the vehicle's shard
and counts the rejected ones, in one Redis round trip. Never touches PostgreSQL: the caller has authenticated
the vehicle already (``fleet.selectors.vehicle_authenticate``, Redis-cached).
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgpack
from django.conf import settings

from telemetry import streams, validation
from telemetry.errors import TelemetryBacklogFull


@dataclass(slots=True)
class IngestResult:
    accepted: int
    errors: list[dict[str, object]] = field(default_factory=list)


def pack_entry(vehicle_id: uuid.UUID, received_ms: int, rows: Sequence[list[object]]) -> bytes:
    """The stream entry of a vehicle's accepted rows: ``[vehicle id (16 bytes), received_at ms, [row, ...]]``."""
    return msgpack.packb([vehicle_id.bytes, received_ms, rows], use_bin_type=True)


def ingest(
    vehicle_id: uuid.UUID, payloads: Sequence[object], *, received_at: datetime | None = None
) -> IngestResult:
    """Validate ``payloads`` (decoded wire messages of one authenticated vehicle) and queue the good ones."""
    received_s = received_at.timestamp() if received_at else time.time_ns() / 1e9
    return ingest_many([(vehicle_id, payloads, received_s)])[0]


def ingest_many(batch: Sequence[tuple[uuid.UUID, Sequence[object], float]], *,
                refused: Counter[str] | None = None) -> list[IngestResult]:
    """``ingest`` for many vehicles at once, in ONE Redis round trip: (vehicle id, payloads, received_at epoch
    seconds) each. ``refused``: messages the edge refused before (bad credential, unreadable), counted in the same
    round trip as ``count_rejected`` would. The MQTT bridge merges its messages this way: one call per vehicle
    would cost a round trip per vehicle, each waiting for the GIL behind paho's network thread.

    Raises ``TelemetryBacklogFull`` (nothing queued) while the backlog is over ``TELEMETRY_MAX_BACKLOG``."""
    if streams.backlog_full():
        streams.append([], {"telemetry_backlog_full": sum(len(payloads) for _, payloads, _ in batch)})
        raise TelemetryBacklogFull(retry_after_s=streams.BACKLOG_RETRY_S)
    max_age_ms, max_future_ms = settings.TELEMETRY_MAX_AGE_S * 1000, settings.TELEMETRY_MAX_FUTURE_S * 1000
    results, entries, rejected, accepted = [], [], Counter[str](refused or {}), 0
    for vehicle_id, payloads, received_at in batch:
        received_ms = round(received_at * 1000)
        rows: list[list[object]] = []
        errors: list[dict[str, object]] = []
        for index, payload in enumerate(payloads):
            try:
                rows.append(validation.validate(payload, now_ms=received_ms, max_age_ms=max_age_ms,
                                                max_future_ms=max_future_ms))
            except validation.Invalid as exc:
                errors.append({"index": index, "code": exc.code, "message": exc.message})
                rejected[exc.code] += 1
        if rows:
            entries.append((streams.shard_of(vehicle_id), pack_entry(vehicle_id, received_ms, rows)))
            accepted += len(rows)
        results.append(IngestResult(accepted=len(rows), errors=errors))
    if entries or rejected:
        streams.append(entries, dict(rejected), accepted=accepted)
    return results


def count_rejected(code: str, count: int = 1) -> None:
    """Count messages an edge refused before ``ingest`` (undecodable body, unknown vehicle) in the same metric."""
    streams.append([], {code: count})
