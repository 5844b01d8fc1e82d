"""Each GBFS file is rendered at most once per ttl per system, and served from memory in between.

A rendered file (JSON bytes, their gzip, a weak ETag, when it was rendered) is stored in Redis under its key for
``ttl`` seconds; each process also keeps the last one it served and uses it until ``rendered_at + ttl``, so a hot
file costs no Redis round trip at all. When the file is missing, one process renders it under a lock
(``cache.add``), the others wait for its result (a stampede of trip planners at the top of the minute renders
once); a lock holder that died is waited for ``LOCK_WAIT_S`` at most, then the waiting process renders itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

LOCK_WAIT_S = 5.0
POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    gzipped: bytes
    etag: str
    rendered_at: float  # POSIX seconds, whole (it is also the Last-Modified)
    ttl: int

    def max_age(self, now: float) -> int:
        return max(0, int(self.rendered_at + self.ttl - now))


def build(document: dict[str, Any], *, ttl: int, status: int = 200, rendered_at: float | None = None) -> Rendered:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    etag = f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    return Rendered(status=status, body=body, gzipped=gzip.compress(body, compresslevel=6, mtime=0), etag=etag,
                    rendered_at=float(int(rendered_at if rendered_at is not None else time.time())), ttl=ttl)


_local: dict[str, Rendered] = {}
_local_lock = threading.Lock()


def forget() -> None:
    """Drop this process's copies (tests clear Redis between tests)."""
    with _local_lock:
        _local.clear()


def get_or_render(key: str, ttl: int, render: Callable[[], Rendered]) -> Rendered:
    """The file under ``key``: this process's copy while fresh, else Redis's, else rendered once by one process."""
    now = time.time()
    found = _local.get(key)
    if found is not None and now < found.rendered_at + found.ttl:
        return found
    found = cache.get(key)
    if found is None:
        found = _render_once(key, ttl, render)
    with _local_lock:
        _local[key] = found
    return found


def _render_once(key: str, ttl: int, render: Callable[[], Rendered]) -> Rendered:
    lock = f"{key}:lock"
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        if cache.add(lock, 1, timeout=int(LOCK_WAIT_S) + 1):
            try:
                found = cache.get(key)  # rendered by the previous holder just before we took the lock
                if found is None:
                    found = render()
                    cache.set(key, found, timeout=max(1, found.max_age(time.time())))
                return found
            finally:
                cache.delete(lock)
        time.sleep(POLL_S)
        found = cache.get(key)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            return render()
