"""Thin Celery tasks: each calls one service. Beat entries are in config/settings.py."""

from __future__ import annotations

from celery import shared_task

from console import services


@shared_task
def rollups_refresh() -> int:
    """Beat: the dashboard's hourly rollups, rebuilt from a few hours before each city's watermark to now."""
    return services.rollups_refresh()
