"""The WebSocket tier's Prometheus figures: counted in the Daphne process, added to Redis, read at scrape time."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from django.test import Client

from core import push
from live import metrics
from live.consumers import CLOSE_TOO_SLOW, LiveConsumer
from tests.live.conftest import bearer, communicator, opened, receive, run
from tests.live.helpers import active_ride

pytestmark = pytest.mark.django_db(transaction=True)


def _figures() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample the collector yields: (name, labels) -> value."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in metrics.LiveCollector().collect() for sample in family.samples}


def _figure(name: str, **labels: str) -> float:
    return _figures().get((name, tuple(sorted(labels.items()))), 0.0)


def test_sockets_opened_refused_and_sent_reach_prometheus_through_redis(card_rider, other_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        foreign = communicator(f"/ws/v1/rides/{ride.id}", bearer(other_rider))
        assert (await foreign.connect())[0] is False
        anonymous = communicator(f"/ws/v1/rides/{ride.id}")
        assert (await anonymous.connect())[0] is False
        comm, _ = await opened(f"/ws/v1/rides/{ride.id}", card_rider)
        await sync_to_async(push.to_ride)(ride.id, "ride.ended", {"total": "1.00", "currency": "EUR"})
        await receive(comm)
        await metrics.flush()
        assert _figure("freewheel_live_sockets_open", stream="ride") == 1
        assert _figure("freewheel_live_processes") == 1
        assert _figure("freewheel_live_sockets_opened_total", stream="ride") == 1
        assert _figure("freewheel_live_handshakes_refused_total", stream="ride") == 2
        assert _figure("freewheel_live_messages_sent_total", stream="ride") == 2  # snapshot, ride.ended
        assert _figure("freewheel_live_bytes_sent_total", stream="ride") > 100
        await comm.disconnect()
        await metrics.flush()
        assert _figure("freewheel_live_sockets_open", stream="ride") == 0
        assert _figure("freewheel_live_sockets_opened_total", stream="ride") == 1  # counters add up, not reset

    run(body)


def test_metrics_endpoint_shows_the_socket_figures(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/rides/{ride.id}", card_rider)
        await metrics.flush()
        await comm.disconnect()

    run(body)
    text = Client().get("/metrics").content.decode()
    assert 'freewheel_live_sockets_opened_total{stream="ride"} 1.0' in text
    assert 'freewheel_live_sockets_open{stream="fleet"} 0.0' in text


def test_a_server_close_is_counted_by_its_code():
    consumer = LiveConsumer()
    consumer.closed = False

    async def close(code: Any = None, reason: Any = None) -> None:
        pass

    consumer.close = close  # type: ignore[method-assign]

    async def body() -> None:
        await consumer.drop(CLOSE_TOO_SLOW, "too slow")
        await consumer.drop(CLOSE_TOO_SLOW, "too slow")  # once per socket
        await metrics.flush()

    run(body)
    assert _figure("freewheel_live_closed_by_server_total", code="4008") == 1


def test_counts_are_flushed_by_themselves_within_the_interval(settings):
    settings.LIVE_METRICS_FLUSH_S = 1
    metrics._last_flush = time.monotonic()

    async def body() -> None:
        metrics.sent("ride", 40)
        metrics.sent("ride", 60)  # one flush scheduled for both
        await asyncio.sleep(0.3)
        assert _figure("freewheel_live_messages_sent_total", stream="ride") == 0  # not yet: the interval
        await asyncio.sleep(1.2)
        assert _figure("freewheel_live_messages_sent_total", stream="ride") == 2
        assert _figure("freewheel_live_bytes_sent_total", stream="ride") == 100

    run(body)


def test_a_process_that_stops_reporting_drops_out_of_the_gauge(settings):
    settings.LIVE_METRICS_FLUSH_S, settings.LIVE_HEARTBEAT_S = 5, 20

    async def body() -> None:
        metrics.opened("fleet")
        await metrics.flush()

    run(body)
    assert _figure("freewheel_live_sockets_open", stream="fleet") == 1
    client = redis.Redis.from_url(settings.REDIS_URL)
    [key] = client.keys(f"{settings.LIVE_METRICS_PREFIX}:live:metrics:open:*")
    assert 0 < client.ttl(key) <= 60  # three heartbeats: a process with a socket open flushes at least that often
    client.delete(key)  # as if it had expired
    assert _figure("freewheel_live_sockets_open", stream="fleet") == 0
    assert _figure("freewheel_live_processes") == 0


def test_counts_survive_a_redis_outage(settings, caplog):
    good = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there

    async def body() -> None:
        metrics.sent("me", 10)
        await metrics.flush()

    run(body)
    assert "Redis unreachable" in caplog.text
    settings.REDIS_URL = good
    run(metrics.flush)
    assert _figure("freewheel_live_messages_sent_total", stream="me") == 1
