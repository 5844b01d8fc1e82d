"""Read-through caching of small, rarely changed rows (a city's ride settings, a current tariff) in Redis.

Invalidation by version: every entry is stored under ``<namespace>:<ident>:<version>`` and a writer bumps the
version after its transaction commits (``cached_bump``). A reader that loaded the old row just before the bump
can only store it under the old version, which nobody reads any more, so a stale value is never served after the
bump (the race a plain ``cache.delete`` has).

Each process also keeps the value it last read and asks Redis for the version at most once per ``LOCAL_S``
(1 s), as the fleet's geofence cache does: a hot path (every ride start) pays no round trip at all, and an edit
is seen everywhere within a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction

TTL_S = 3600
LOCAL_S = 1.0
_MISSING = object()
_local: dict[tuple[str, str], tuple[float, object, Any]] = {}  # (namespace, ident) -> (checked at, version, value)
_local_lock = threading.Lock()


def _version_key(namespace: str, ident: object) -> str:
    return f"v:{namespace}:{ident}"


def cached(namespace: str, ident: object, load: Callable[[], Any], *, ttl: int = TTL_S) -> Any:
    """``load()``'s result, cached until ``cached_bump(namespace, ident)``. ``load`` must return picklable data;
    callers must not mutate the returned value (it is shared within the process)."""
    local_key, now = (namespace, str(ident)), time.monotonic()
    local = _local.get(local_key)
    if local is not None and now - local[0] < LOCAL_S:
        return local[2]
    version = cache.get(_version_key(namespace, ident), 0)
    if local is not None and local[1] == version:
        value = local[2]
    else:
        key = f"c:{namespace}:{ident}:{version}"
        value = cache.get(key, _MISSING)
        if value is _MISSING:
            value = load()
            cache.set(key, value, ttl)
    with _local_lock:
        _local[local_key] = (now, version, value)
    return value


def cached_forget() -> None:
    """Drop this process's copies (tests that clear Redis call it too)."""
    with _local_lock:
        _local.clear()


def _bump(namespace: str, ident: object) -> None:
    key = _version_key(namespace, ident)
    if not cache.add(key, 1, None):
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, None)


def cached_bump(namespace: str, ident: object) -> None:
    """Invalidate now and again after the surrounding transaction commits (other processes within ``LOCAL_S``).

    The second bump drops what a concurrent reader loaded (the old row) while the writer's transaction was open;
    the first one makes the writer's own transaction (and a test that never commits) read its new row.
    """
    with _local_lock:
        _local.pop((namespace, str(ident)), None)
    _bump(namespace, ident)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(namespace, ident))
