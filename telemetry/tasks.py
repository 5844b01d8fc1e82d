"""Thin Celery tasks of telemetry (queue ``telemetry``)."""

from __future__ import annotations

from celery import shared_task

from telemetry import liveness


@shared_task
def liveness_sweep() -> dict[str, int]:
    """Beat: silent vehicles become non_contactable (comms_lost), then missing past the city's limit."""
    return liveness.liveness_sweep()
