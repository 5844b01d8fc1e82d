"""Prometheus figures of the WebSocket tier, across every Daphne process.

Daphne is not scraped (``/metrics`` is served by the WSGI workers), so each Daphne process counts in memory and
adds its counts to Redis at most every ``LIVE_METRICS_FLUSH_S``, on the back of socket activity (a message sent,
a socket opened or closed: the heartbeat makes that at least every ``LIVE_HEARTBEAT_S`` while a socket is open;
no background task). Its open sockets go to a key of its own that expires when the process stops reporting, so
a crashed process's sockets vanish from the gauge. ``LiveCollector`` reads it all from Redis at scrape time.

The hot path (``sent``) is two in-memory additions: Daphne relays thousands of messages a second, and a Redis
round trip per message would cost more than relaying it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_counts: Counter[str] = Counter()  # "<figure>|<label>" -> amount since the last flush
_open: Counter[str] = Counter()  # stream -> sockets open in this process
_last_flush = 0.0
_armed_loop: asyncio.AbstractEventLoop | None = None  # the loop a flush is scheduled on
PROCESS = f"{socket.gethostname()}:{os.getpid()}"


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    """One pooled client per process for the scrapes."""
    return redis.Redis.from_url(url)


def _prefix() -> str:
    return f"{settings.LIVE_METRICS_PREFIX}:live:metrics"


def opened(stream: str) -> None:
    _open[stream] += 1
    _counts[f"opened|{stream}"] += 1
    _arm()


def closed(stream: str) -> None:
    _open[stream] -= 1
    _arm()


def refused(stream: str) -> None:
    _counts[f"refused|{stream}"] += 1
    _arm()


def dropped(code: int) -> None:
    """The server closed a socket with ``code`` (4001 token expired, 4008 too slow)."""
    _counts[f"closed_by_server|{code}"] += 1
    _arm()


def sent(stream: str, size: int) -> None:
    _counts[f"messages|{stream}"] += 1
    _counts[f"bytes|{stream}"] += size
    _arm()


def _arm() -> None:
    """Schedule a flush on this event loop, ``LIVE_METRICS_FLUSH_S`` after the last one (at once if that has
    passed), unless one is scheduled already. Outside an event loop (a sync test) nothing is scheduled."""
    global _armed_loop
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    if _armed_loop is loop:
        return
    _armed_loop = loop  # a loop that has gone (tests run several) does not block the current one
    wait = max(0.0, _last_flush + settings.LIVE_METRICS_FLUSH_S - time.monotonic())
    loop.call_later(wait, lambda: loop.create_task(_scheduled_flush()))


async def _scheduled_flush() -> None:
    global _armed_loop, _last_flush
    _armed_loop, _last_flush = None, time.monotonic()  # what happens during the flush arms the next one
    await flush()


async def flush() -> None:
    """Add this process's counts to Redis and refresh its open-sockets key (one round trip)."""
    counts = dict(_counts)
    _counts.clear()
    ttl = max(3 * settings.LIVE_METRICS_FLUSH_S, 3 * settings.LIVE_HEARTBEAT_S)
    prefix = _prefix()
    try:
        async with aioredis.Redis.from_url(settings.REDIS_URL) as client:
            pipe = client.pipeline(transaction=False)
            for field, amount in counts.items():
                if amount:
                    pipe.hincrby(f"{prefix}:counts", field, amount)
            key = f"{prefix}:open:{PROCESS}"
            pipe.delete(key)
            mapping: dict[str | bytes, int] = {"_process": 1}
            mapping.update(_open)
            pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
            pipe.expire(key, ttl)
            await pipe.execute()
    except (redis.RedisError, OSError):
        logger.warning("live metrics: Redis unreachable; %d counts kept for the next flush", len(counts))
        _counts.update(counts)


class LiveCollector(Collector):
    """The WebSocket tier's figures, summed over the Daphne processes that reported recently."""

    def collect(self) -> Iterator[Metric]:
        prefix = _prefix()
        try:
            client = _client(settings.REDIS_URL)
            counts = client.hgetall(f"{prefix}:counts")
            processes = [client.hgetall(key) for key in client.scan_iter(match=f"{prefix}:open:*", count=100)]
        except redis.RedisError:
            logger.warning("live metrics: Redis unreachable")
            return
        open_ = GaugeMetricFamily("freewheel_live_sockets_open", "WebSockets open, all Daphne processes",
                                  labels=["stream"])
        totals: Counter[str] = Counter()
        for process in processes:
            for stream, n in process.items():
                name = stream.decode() if isinstance(stream, bytes) else str(stream)
                if name != "_process":
                    totals[name] += int(n)
        for stream in ("ride", "fleet", "me", *sorted(set(totals) - {"ride", "fleet", "me"})):
            open_.add_metric([stream], totals[stream])
        yield open_
        yield GaugeMetricFamily("freewheel_live_processes", "Daphne processes that reported recently",
                                value=len(processes))
        families = {
            "opened": CounterMetricFamily("freewheel_live_sockets_opened", "WebSockets accepted", labels=["stream"]),
            "refused": CounterMetricFamily("freewheel_live_handshakes_refused",
                                           "Handshakes refused (anonymous, foreign ride, no permission, bad query)",
                                           labels=["stream"]),
            "messages": CounterMetricFamily("freewheel_live_messages_sent", "Messages sent to sockets",
                                            labels=["stream"]),
            "bytes": CounterMetricFamily("freewheel_live_bytes_sent", "Bytes sent to sockets (UTF-8 JSON)",
                                         labels=["stream"]),
            "closed_by_server": CounterMetricFamily("freewheel_live_closed_by_server",
                                                    "Sockets the server closed: 4001 token expired, 4008 too slow",
                                                    labels=["code"]),
        }
        for raw_field, amount in sorted(counts.items()):
            field = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
            figure, _, label = field.partition("|")
            if figure in families:
                families[figure].add_metric([label], int(amount))
        yield from families.values()
