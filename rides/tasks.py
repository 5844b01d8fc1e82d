"""Thin Celery tasks: each calls one service. Beat entries are in config/settings.py."""

from __future__ import annotations

from celery import shared_task

from rides import services


@shared_task
def rides_sweep_commands() -> int:
    """Beat: unlocks never acknowledged -> ride cancelled (hold released); missed acks applied."""
    return services.rides_sweep_commands()


@shared_task
def reservations_expire() -> int:
    return services.reservations_expire()


@shared_task
def rides_auto_end() -> int:
    return services.rides_auto_end()


@shared_task
def rides_charge_pending() -> int:
    return services.rides_charge_pending()
