"""Prometheus metrics: request counts and latencies per route, plus collectors the apps register.

With several WSGI workers set ``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics`` aggregates all of them.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

REQUESTS = Counter("freewheel_http_requests_total", "HTTP requests served", ["method", "route", "status"])
LATENCY = Histogram(
    "freewheel_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

# Every label has a bounded set of values: the route is the URL pattern that matched (or "unmatched"), never
# the path; a method outside these is "other"; the status is one the app returned.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

_extra_collectors: list[Collector] = []


def register_collector(collector: Collector) -> None:
    """Add a collector that is read at scrape time (e.g. telemetry stream lag from Redis)."""
    _extra_collectors.append(collector)


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    if _extra_collectors:
        extra = CollectorRegistry()
        for collector in _extra_collectors:
            extra.register(collector)
        output += generate_latest(extra)
    return output


class _GcClock(threading.local):
    started: float = 0.0
    spent: float = 0.0


_gc_clock = _GcClock()


def _gc_callback(phase: str, info: dict[str, int]) -> None:
    """Garbage collection runs in the thread that triggered it, with the GIL held: add its pause to that thread."""
    if phase == "start":
        _gc_clock.started = time.perf_counter()
    elif _gc_clock.started:
        _gc_clock.spent += time.perf_counter() - _gc_clock.started
        _gc_clock.started = 0.0


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        if _gc_callback not in gc.callbacks:
            gc.callbacks.append(_gc_callback)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start, cpu_start, gc_start = time.perf_counter(), time.thread_time(), _gc_clock.spent
        response = self.get_response(request)
        elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
        collecting = _gc_clock.spent - gc_start
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = request.method if request.method in _METHODS else "other"  # anyone can invent a method
        LATENCY.labels(method, route).observe(elapsed)
        REQUESTS.labels(method, route, str(response.status_code)).inc()
        # W3C Server-Timing: time in the app, this thread's CPU time in it, and the garbage collections this thread
        # ran meanwhile. What is left of a client's latency is queueing before the app (server, network); app
        # minus cpu is waiting (database, locks, the GIL).
        response["Server-Timing"] = (f"app;dur={elapsed * 1000:.1f}, cpu;dur={cpu * 1000:.1f}, "
                                     f"gc;dur={collecting * 1000:.1f}")
        return response
