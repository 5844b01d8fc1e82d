"""Read-through caching of small, rarely changed rows (a city's ride settings, a current tariff) in Redis.

Invalidation by version: every entry is stored under ``<namespace>:<ident>:<version>`` and a writer bumps the
version after its transaction commits (``cached_bump``). A reader that loaded the old row just before the bump
can only store it under the old version, which nobody reads any more, so a stale value is never served after the
bump (the race a plain ``cache.delete`` has). Two Redis round trips per read instead of one or more queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction

TTL_S = 3600
_MISSING = object()


def _version_key(namespace: str, ident: object) -> str:
    return f"v:{namespace}:{ident}"


def cached(namespace: str, ident: object, load: Callable[[], Any], *, ttl: int = TTL_S) -> Any:
    """``load()``'s result, cached until ``cached_bump(namespace, ident)``. ``load`` must return picklable data."""
    version = cache.get(_version_key(namespace, ident), 0)
    key = f"c:{namespace}:{ident}:{version}"
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        cache.set(key, value, ttl)
    return value


def _bump(namespace: str, ident: object) -> None:
    key = _version_key(namespace, ident)
    if not cache.add(key, 1, None):
        try:
            cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, None)


def cached_bump(namespace: str, ident: object) -> None:
    """Invalidate now and again after the surrounding transaction commits.

    The second bump drops what a concurrent reader loaded (the old row) while the writer's transaction was open;
    the first one makes the writer's own transaction (and a test that never commits) read its new row.
    """
    _bump(namespace, ident)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _bump(namespace, ident))
