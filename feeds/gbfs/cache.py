"""Each GBFS file is rendered at most once per ttl per system, and served from memory in between.

A rendered file (JSON bytes, their gzip, a weak ETag, when it was rendered) is stored in Redis under its key; each
process also keeps the last one it served and uses it until ``rendered_at + ttl``, so a hot file costs no Redis
round trip at all. When it is older than its ttl, the first process to take the file's lock (``cache.add``) renders
it again, in the request that found it old; meanwhile every other request (in any process) is served the previous
copy for up to ``GRACE_S`` more seconds (with ``max-age=0``) instead of queueing behind the render (a 10k-vehicle
``vehicle_status`` takes 0.3-0.7 s, and trip planners poll at the top of each minute), and a process serving an old
copy asks Redis for the new one at most every ``RECHECK_S`` (fetching the old copy again for each request was what
made the re-render window slow in the benchmark). Only a cold
start (no copy at all) waits for the renderer; a lock holder that died is waited for ``LOCK_WAIT_S`` at most, then
the waiting request renders itself.
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
GRACE_S = 60  # how long past its ttl a copy may still be served while a new one is being rendered
RECHECK_S = 0.25  # how often a process serving an old copy asks Redis whether the new one is there


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    gzipped: bytes
    etag: str
    rendered_at: float  # POSIX seconds, whole (it is also the Last-Modified)
    ttl: int

    def __getstate__(self) -> tuple[int, bytes, str, float, int]:
        # Redis holds the gzip only (a tenth of the size): each process inflates its copy once when it fetches it.
        return self.status, self.gzipped, self.etag, self.rendered_at, self.ttl

    def __setstate__(self, state: tuple[int, bytes, str, float, int]) -> None:
        status, gzipped, etag, rendered_at, ttl = state
        for name, value in (("status", status), ("body", gzip.decompress(gzipped)), ("gzipped", gzipped),
                            ("etag", etag), ("rendered_at", rendered_at), ("ttl", ttl)):
            object.__setattr__(self, name, value)

    def max_age(self, now: float) -> int:
        return max(0, int(self.rendered_at + self.ttl - now))

    def fresh(self, now: float) -> bool:
        return now < self.rendered_at + self.ttl


class RawJson:
    """JSON text to put into a document as it is (the vehicle list PostgreSQL built)."""

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(document: dict[str, Any]) -> str:
    """Compact JSON of ``document``, ``RawJson`` values spliced in as they are."""
    raws: list[str] = []

    def placeholder(value: object) -> str:
        if not isinstance(value, RawJson):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        raws.append(value.text)
        return f"\0raw{len(raws) - 1}\0"

    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=placeholder)
    for index, raw in enumerate(raws):
        text = text.replace(f'"\\u0000raw{index}\\u0000"', raw, 1)
    return text


def build(document: dict[str, Any], *, ttl: int, status: int = 200, rendered_at: float | None = None) -> Rendered:
    body = dumps(document).encode()
    etag = f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    return Rendered(status=status, body=body, gzipped=gzip.compress(body, compresslevel=6, mtime=0), etag=etag,
                    rendered_at=float(int(rendered_at if rendered_at is not None else time.time())), ttl=ttl)


_local: dict[str, tuple[Rendered, float]] = {}  # key -> (copy, time until which it is served without asking Redis)
_local_lock = threading.Lock()


def forget() -> None:
    """Drop this process's copies (tests clear Redis between tests)."""
    with _local_lock:
        _local.clear()


def get_or_render(key: str, ttl: int, render: Callable[[], Rendered]) -> Rendered:
    """The file under ``key``: this process's copy while fresh, else Redis's, else a new render by one request."""
    now = time.time()
    entry = _local.get(key)
    if entry is not None and now < entry[1]:
        return entry[0]
    found: Rendered | None = cache.get(key)
    if found is None or not found.fresh(now):
        stale = found or (entry[0] if entry is not None else None)
        if stale is None or now >= stale.rendered_at + stale.ttl + GRACE_S:
            found = _render_waiting(key, render)
        else:
            found = _render_if_free(key, render) or stale
    if found.status == 200:  # only files of real systems stay in memory: random URLs must not grow it
        until = found.rendered_at + found.ttl if found.fresh(now) else now + RECHECK_S
        with _local_lock:
            _local[key] = (found, until)
    return found


def _store(key: str, rendered: Rendered) -> None:
    cache.set(key, rendered, timeout=max(1, rendered.max_age(time.time())) + GRACE_S)


def _render_if_free(key: str, render: Callable[[], Rendered]) -> Rendered | None:
    """Render under the lock if nobody holds it; None if another request is rendering (serve the old copy)."""
    lock = f"{key}:lock"
    if not cache.add(lock, 1, timeout=int(LOCK_WAIT_S) + 1):
        return None
    try:
        found: Rendered | None = cache.get(key)  # rendered by the previous holder just before we took the lock
        if found is None or not found.fresh(time.time()):
            found = render()
            _store(key, found)
        return found
    finally:
        cache.delete(lock)


def _render_waiting(key: str, render: Callable[[], Rendered]) -> Rendered:
    """Nothing to serve: render under the lock, or wait for whoever holds it (a stampede renders once)."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        found = _render_if_free(key, render)
        if found is not None:
            return found
        time.sleep(POLL_S)
        found = cache.get(key)
        if found is not None and found.fresh(time.time()):
            return found
        if time.monotonic() > deadline:
            return render()
