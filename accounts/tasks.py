"""Periodic housekeeping of accounts (scheduled in CELERY_BEAT_SCHEDULE); safe to run twice or concurrently."""

from __future__ import annotations

from celery import shared_task

from accounts.services import passwords, phone_otp, tokens


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
