"""Thin Celery tasks of telemetry (queue ``telemetry``)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from telemetry import liveness, pipeline, storage, streams


@shared_task
def liveness_sweep() -> dict[str, int]:
    """Beat: silent vehicles become non_contactable (comms_lost), then missing past the city's limit."""
    return liveness.liveness_sweep()


# --- the pipeline (docs/telemetry.md) ----------------------------------------------------------------------


@shared_task(acks_late=True)
def drain() -> int:
    """A drainer: applies batches from every shard it can lock for TELEMETRY_DRAIN_SECONDS, then queues itself
    again (so other telemetry tasks get a turn). Exits at once when TELEMETRY_DRAINERS drainers run already."""
    done = pipeline.drain(budget_s=settings.TELEMETRY_DRAIN_SECONDS)
    if done >= 0:
        drain.delay()
    return done


@shared_task
def drain_kick() -> int:
    """Beat: start drainers for the free drainer slots (first start, or after a worker was killed)."""
    streams.ensure_groups()
    free = pipeline.free_drainer_slots()
    for _ in range(free):
        drain.delay()
    return free


@shared_task
def reclaim() -> int:
    """Beat: apply entries left pending by a crashed consumer on shards no drainer is visiting."""
    return pipeline.reclaim_all(consumer=streams.consumer_name())


@shared_task
def partitions_ensure() -> int:
    """Beat: create the history's day partitions TELEMETRY_PARTITIONS_AHEAD_DAYS ahead."""
    return len(storage.ensure_ahead(ahead_days=settings.TELEMETRY_PARTITIONS_AHEAD_DAYS))
