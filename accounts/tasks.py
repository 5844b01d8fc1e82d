"""Periodic housekeeping of accounts (scheduled in CELERY_BEAT_SCHEDULE); safe to run twice or concurrently."""

from __future__ import annotations

from celery import shared_task

from accounts.services import phone_otp, tokens


@shared_task
def phone_otp_purge() -> int:
    return phone_otp.phone_otp_purge()


@shared_task
def tokens_flush_expired() -> int:
    return tokens.tokens_flush_expired()
