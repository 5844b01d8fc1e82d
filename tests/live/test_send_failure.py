"""A send that fails closes the consumer's side; a client that simply went away is not logged as a problem."""

from __future__ import annotations

import logging
from typing import Any

from autobahn.exception import Disconnected
from django.conf import settings

from live.consumers import LiveConsumer
from tests.live.conftest import run


def _consumer(error: Exception) -> LiveConsumer:
    consumer = LiveConsumer()
    consumer.seq = consumer.sent_bytes = consumer.acked_bytes = consumer.ping_bytes = consumer.grace = 0
    consumer.buffer_limit = settings.LIVE_SEND_BUFFER_KB * 1024
    consumer.pings, consumer.closed = {}, False

    async def send(**kwargs: Any) -> None:
        raise error

    consumer.send = send  # type: ignore[method-assign]
    return consumer


def test_a_client_gone_between_two_messages_is_routine(caplog):
    consumer = _consumer(Disconnected("Attempt to send on a closed protocol"))

    async def body() -> None:
        await consumer.emit("ping")
        await consumer.emit("ride.updated", {"battery_pct": 80})

    with caplog.at_level(logging.DEBUG, logger="live.consumers"):
        run(body)
    assert consumer.closed
    records = [r for r in caplog.records if "failed; socket closed" in r.getMessage()]
    assert len(records) == 1  # nothing more is sent once closed
    assert records[0].levelno == logging.DEBUG and not records[0].exc_info


def test_any_other_send_failure_is_a_warning_with_its_traceback(caplog):
    consumer = _consumer(ValueError("frame too big"))

    async def body() -> None:
        await consumer.emit("fleet.positions", {"vehicles": []})

    with caplog.at_level(logging.DEBUG, logger="live.consumers"):
        run(body)
    assert consumer.closed
    [record] = [r for r in caplog.records if "failed; socket closed" in r.getMessage()]
    assert record.levelno == logging.WARNING and record.exc_info
