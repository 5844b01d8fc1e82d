"""One snapshot of the pipeline's state (Redis only): ``/metrics`` and ``manage.py telemetry_status`` show it."""

from __future__ import annotations

import time
from typing import Any

from telemetry import streams

STAT_NAMES = ("accepted", "batches", "messages", "new", "duplicates", "late", "reclaimed", "dead")


def _int(value: Any) -> int:
    return int(float(value)) if value is not None else 0


def latency_percentile(buckets: dict[str, int], fraction: float) -> float | None:
    """The ``fraction`` quantile (0..1) of the latency histogram, linearly interpolated inside its bucket."""
    total = sum(buckets.values())
    if not total:
        return None
    wanted, seen, lower = fraction * total, 0, 0.0
    for bound in streams.LATENCY_BUCKETS_MS:
        count = buckets.get(str(bound), 0)
        if count and seen + count >= wanted:
            return round(lower + (bound - lower) * (wanted - seen) / count, 1)
        seen, lower = seen + count, float(bound)
    return float("inf")


def snapshot() -> dict[str, Any]:
    client = streams.client()
    pipe = client.pipeline(transaction=False)
    shards = streams.shards()
    for shard in range(shards):
        pipe.xlen(streams.stream_key(shard))
        pipe.xpending(streams.stream_key(shard), streams.GROUP)
    pipe.hgetall(streams.key("stats"))
    pipe.hgetall(streams.key("rejected"))
    pipe.hgetall(streams.key("latency"))
    pipe.xlen(streams.key("dead"))
    now = time.time()
    now_slot = int(now) // 10
    for slot in range(now_slot - 5, now_slot + 1):  # the last minute: five whole slots and the current one
        pipe.get(streams.key(f"rate:{slot}"))
    results = pipe.execute(raise_on_error=False)
    shard_rows = []
    for shard in range(shards):
        length, pending = results[2 * shard], results[2 * shard + 1]
        pending_count = pending["pending"] if isinstance(pending, dict) else 0  # no group yet: nothing pending
        length = length if isinstance(length, int) else 0
        shard_rows.append({"shard": shard, "length": length, "pending": pending_count,
                           "lag": max(length - pending_count, 0)})
    stats_raw, rejected_raw, latency_raw, dead_length = results[2 * shards: 2 * shards + 4]
    rate_slots = results[2 * shards + 4:]
    stats = {name: _int(stats_raw.get(name.encode())) for name in STAT_NAMES}
    batch_ms = float(stats_raw.get(b"batch_ms", 0) or 0)
    latency = {k.decode(): int(v) for k, v in latency_raw.items()}
    return {
        "shards": shard_rows,
        "backlog": sum(row["length"] for row in shard_rows),
        "pending": sum(row["pending"] for row in shard_rows),
        "stats": stats,
        "avg_batch_size": round(stats["messages"] / stats["batches"], 1) if stats["batches"] else 0.0,
        "last_batch_size": _int(stats_raw.get(b"last_batch")),
        "avg_batch_ms": round(batch_ms / stats["batches"], 1) if stats["batches"] else 0.0,
        "batch_seconds_total": round(batch_ms / 1000, 3),
        "rate_per_s_last_minute": round(sum(_int(v) for v in rate_slots) / (50 + now % 10), 2),
        "rejected": {k.decode(): int(v) for k, v in rejected_raw.items()},
        "dead_letters": dead_length if isinstance(dead_length, int) else 0,
        "latency_ms_buckets": latency,
        "latency_ms_p50": latency_percentile(latency, 0.5),
        "latency_ms_p99": latency_percentile(latency, 0.99),
    }


def reset_counters() -> None:
    """Forget the shared counters (benchmarks measure from zero)."""
    client = streams.client()
    client.delete(streams.key("stats"), streams.key("rejected"), streams.key("latency"))


