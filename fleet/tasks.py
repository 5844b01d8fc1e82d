"""Thin Celery tasks: each takes ids and calls one service."""

from __future__ import annotations

import uuid

from celery import shared_task

from fleet import services
from fleet.gateway import GatewayError


@shared_task(acks_late=True, autoretry_for=(GatewayError,), retry_backoff=2, retry_jitter=True, max_retries=4)
def command_send(command_id: str) -> None:
    """Deliver one command. Safe to run twice: the service claims the command with a conditional UPDATE."""
    services.command_deliver(command_id=uuid.UUID(command_id))


@shared_task(acks_late=True)
def command_simulate_ack(correlation_id: str, ok: bool) -> None:
    """The simulated vehicle's answer (``fleet.gateway.SimulatedGateway``)."""
    services.command_ack(correlation_id=uuid.UUID(correlation_id), ok=ok, detail="" if ok else "simulated failure")


@shared_task
def commands_expire_overdue() -> dict[str, int]:
    """Beat: time out sent commands without an answer, expire queued ones past their TTL."""
    return services.commands_expire_overdue()
