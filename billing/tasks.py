"""Thin Celery tasks: each calls one service (safe to run twice: the services are idempotent)."""

from __future__ import annotations

from celery import shared_task

from billing.services import reconcile, sweeper


@shared_task(acks_late=True)
def orphan_holds_void() -> int:
    return sweeper.orphan_holds_void()


@shared_task(acks_late=True)
def reconcile_nightly() -> int:
    """Once per UTC night (beat ``billing-reconcile-nightly``); returns the number of mismatches."""
    return reconcile.reconcile_nightly().mismatch_count
