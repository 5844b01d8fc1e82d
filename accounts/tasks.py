"""Tasks of accounts: housekeeping (scheduled in CELERY_BEAT_SCHEDULE) and mobile pushes; all safe to run twice or
concurrently."""

from __future__ import annotations

import uuid
from typing import Any

from celery import shared_task

from accounts.services import passwords, phone_otp, push_deliveries, tokens


@shared_task
def phone_otp_purge() -> int:
    return phone_otp.phone_otp_purge()


@shared_task
def tokens_flush_expired() -> int:
    return tokens.tokens_flush_expired()


@shared_task
def password_reset_send(email: str) -> bool:
    """Takes the address, not a user id: the request that queues it must not look the account up."""
    return passwords.password_reset_send(email=email)


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_delivery_send(self: Any, delivery_id: str) -> None:
    """One attempt of one push; a passing failure is retried after the service's backoff (or the provider's
    Retry-After), until PUSH_MAX_ATTEMPTS. Safe to run twice: the service claims the row."""
    delay = push_deliveries.push_delivery_attempt(delivery_id=uuid.UUID(delivery_id))
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task
def push_deliveries_due() -> int:
    """Beat: send the pushes held for quiet hours once they end, and retries whose task was lost."""
    due = push_deliveries.push_deliveries_due()
    for delivery_id in due:
        push_delivery_send.delay(str(delivery_id))
    return len(due)


@shared_task
def push_deliveries_purge() -> int:
    """Beat: forget finished pushes after 30 days."""
    return push_deliveries.push_deliveries_purge()
