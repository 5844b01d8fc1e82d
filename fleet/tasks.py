"""Thin Celery tasks: each takes ids and calls one service."""

from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from fleet import services
from fleet.gateway import GatewayError
from fleet.services import alert_sweep, alerting


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


@shared_task(acks_late=True)
def alerts_dispatch(alert_ids: list[str], event: str = "opened") -> int:
    """Route newly opened (or resolved) alerts to webhooks and email (rate-limited); send the immediate ones."""
    immediate = alerting.alerts_dispatch(alert_ids=[uuid.UUID(a) for a in alert_ids], event=event)
    for delivery in immediate:
        alert_delivery_send.delay(str(delivery.id))
    return len(immediate)


@shared_task(bind=True, acks_late=True, max_retries=None)
def alert_delivery_send(self: Any, delivery_id: str) -> None:
    """One attempt; on failure Celery retries after the service's exponential backoff (attempts are recorded, and
    the service gives up after ALERT_DELIVERY_MAX_ATTEMPTS). Safe to run twice: the service claims the row."""
    delay = alerting.alert_delivery_attempt(delivery_id=uuid.UUID(delivery_id))
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task
def alert_deliveries_due() -> int:
    """Beat: send digests whose window ended, and deliveries whose retry is due but whose task was lost."""
    due = alerting.alert_deliveries_due()
    for delivery_id in due:
        alert_delivery_send.delay(str(delivery_id))
    return len(due)


@shared_task
def ops_alerts_sweep() -> dict[str, int]:
    """Beat: alerts and swap tasks follow the vehicles' state (comms lost, battery low; fleet.services.alert_sweep)."""
    return alert_sweep.ops_alerts_sweep()
