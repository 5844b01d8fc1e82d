"""Move what a server process loaded at start-up out of the garbage collector's sight (``gc.freeze``).

A Django process holds some 200,000 container objects once its apps, URLs and admin are loaded. CPython's full
(generation 2) collection walks all of them with the GIL held, so every request, socket or batch of that
process waits. They live as long as the process, so scanning them finds nothing;
``gc.freeze()`` moves them to a permanent generation that collections skip (what the CPython docs advise for
servers, and what large Django deployments do). Later objects are collected as before. ``bench rides`` showed
the pauses as the slowest starts, with most of their CPU spent in these collections.

Called by ``config.wsgi``, ``config.asgi`` and each Celery worker process (``config.celery``).

``relax_thresholds`` (``config.asgi`` only): a Daphne process holding thousands of sockets keeps far more live
objects than a request worker, and every message it relays allocates dicts that live until the socket has sent
them. With the default thresholds (700, 10, 10) ``bench live`` showed young collections many times a second,
and generation-1 and full collections long enough to be seen in the sockets' latency, each one a stop of every
socket of the process.
Rarer young collections let most of those dicts die before a collection sees them, so far fewer are promoted and
the older generations stay small and seldom collected; cycles are still collected.
"""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

# (generation 0, 1, 2) thresholds of the WebSocket server: a young collection per 50,000 net allocations instead
# of 700, a generation-1 one per 20 of those, a full one per 100 generation-1 collections (and, as always, only
# once the survivors waiting for it are a quarter of the old generation).
SERVER_THRESHOLDS = (50_000, 20, 100)


def freeze_startup_objects() -> int:
    """Load what requests would load lazily (URL patterns), collect once, then freeze; returns objects frozen."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every app's views and serializers now, not in a request
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d start-up objects", frozen)
    return frozen


def relax_thresholds(thresholds: tuple[int, int, int] = SERVER_THRESHOLDS) -> tuple[int, int, int]:
    """Collect less often in a long-running socket server (see the module docstring); returns the old thresholds."""
    old = gc.get_threshold()
    gc.set_threshold(*thresholds)
    return old
