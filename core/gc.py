"""Move what a server process loaded at start-up out of the garbage collector's sight (``gc.freeze``).

A Django process holds some 200,000 container objects once its apps, URLs and admin are loaded. CPython's full
(generation 2) collection walks all of them: 200-280 ms measured here with the GIL held, so every request,
socket or batch of that process waits. They live as long as the process, so scanning them finds nothing;
``gc.freeze()`` moves them to a permanent generation that collections skip (what the CPython docs advise for
servers, and what large Django deployments do). Later objects are collected as before. ``bench rides`` showed
the pauses as starts with 200+ ms of CPU in the app.

Called by ``config.wsgi``, ``config.asgi`` and each Celery worker process (``config.celery``).
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Load what requests would load lazily (URL patterns), collect once, then freeze; returns objects frozen."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every app's views and serializers now, not in a request
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d start-up objects", frozen)
    return frozen
