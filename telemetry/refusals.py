"""The edge's 503 refusals in the log: at most one WARNING line per ``INTERVAL_S`` per process, with counts.

During an outage or under backpressure the edge refuses thousands of requests a second; a line each would drown
the log (and Django's ``django.request`` line for each 503 is dropped by ``core.logging.DropResponses``). The
first refusal after a quiet interval is logged at once; the ones after it are counted and reported with the next
refusal, or the next accepted request, once the interval has passed. The ``rejected`` metric counts every refused
message (except while Redis itself is away).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

logger = logging.getLogger(__name__)

INTERVAL_S = 10.0


class RefusalLog:
    """Refusals of this process by error code, logged as one line per interval (thread-safe)."""

    def __init__(self, log: logging.Logger, *, interval_s: float = INTERVAL_S) -> None:
        self.log, self.interval_s = log, interval_s
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._last_error = ""
        self._first = 0.0  # monotonic time of the first refusal counted since the last line
        self._next = 0.0  # monotonic time before which no line is written

    def refused(self, code: str, error: str = "") -> None:
        with self._lock:
            if not self._counts:
                self._first = time.monotonic()
            self._counts[code] += 1
            self._last_error = error or self._last_error
            line = self._take_if_due()
        if line:
            self.log.warning(line)

    def flush_if_due(self) -> None:
        """Report the refusals counted since the last line, if any and the interval has passed (cheap otherwise:
        the accepted path calls it on every request)."""
        if not self._counts or time.monotonic() < self._next:
            return
        with self._lock:
            line = self._take_if_due()
        if line:
            self.log.warning(line)

    def _take_if_due(self) -> str:
        now = time.monotonic()
        if not self._counts or now < self._next:
            return ""
        counts, error = self._counts, self._last_error
        total, span = sum(counts.values()), now - self._first
        self._counts, self._last_error, self._next = Counter(), "", now + self.interval_s
        by_code = ", ".join(f"{code} {count}" for code, count in sorted(counts.items()))
        return (f"telemetry edge: {total} request(s) refused with 503 in {span:.1f} s ({by_code})"
                + (f"; last error: {error}" if error else ""))


edge = RefusalLog(logger)
