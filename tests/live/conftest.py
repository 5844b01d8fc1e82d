"""Live fixtures: the rides fixtures (city, scooter tariff, vehicle), socket helpers, fleet staff."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from rest_framework_simplejwt.tokens import AccessToken

from accounts import roles
from live import metrics as live_metrics
from tests.accounts.factories import UserFactory
from tests.rides.conftest import (  # noqa: F401 - fixtures
    _fresh_geofence_cache,
    _media_in_tmp,
    card_rider,
    city,
    scooter,
    vehicle,
)


def token(user: Any, seconds: int | None = None) -> str:
    access = AccessToken.for_user(user)
    if seconds is not None:
        access.set_exp(lifetime=timedelta(seconds=seconds))
    return str(access)


def bearer(user: Any, seconds: int | None = None) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token(user, seconds)}".encode())]


def communicator(path: str, headers: list[tuple[bytes, bytes]] | None = None,
                 subprotocols: list[str] | None = None) -> WebsocketCommunicator:
    from config.asgi import application

    return WebsocketCommunicator(application, path, headers=headers or [], subprotocols=subprotocols)


async def receive(comm: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    """The next server message that is not a ping."""
    while True:
        message = json.loads(await comm.receive_from(timeout=timeout))
        if message["type"] != "ping":
            return message  # type: ignore[no-any-return]


async def opened(path: str, user: Any) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """A socket of ``user`` that the server accepted, and its first message (the snapshot)."""
    comm = communicator(path, bearer(user))
    assert (await comm.connect())[0] is True
    return comm, await receive(comm)


async def nothing_more(comm: WebsocketCommunicator, timeout: float = 0.5) -> bool:
    """No message within ``timeout`` (``receive_nothing``: a timed-out receive would cancel the app)."""
    return bool(await comm.receive_nothing(timeout=timeout))


async def close_of(comm: WebsocketCommunicator, timeout: float) -> dict[str, Any]:
    """Read until the server closes; returns the close message."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        output = await comm.receive_output(timeout=max(0.01, deadline - loop.time()))
        if output["type"] == "websocket.close":
            return output  # type: ignore[no-any-return]


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async test body from a sync test (no pytest-asyncio here); ORM calls inside
    ``database_sync_to_async`` then run on this thread, against the test database."""
    return async_to_sync(coro_fn)()


@pytest.fixture(autouse=True)
def _live_settings(settings: Any) -> Iterator[None]:
    settings.LIVE_HEARTBEAT_S = 30
    settings.LIVE_RIDE_INTERVAL_MS = 200
    settings.LIVE_FLEET_INTERVAL_MS = 300
    # The sockets' metrics: a Redis prefix of the test's own, and no flush unless a test asks for one (a flush
    # scheduled on a test's short-lived event loop would outlive it).
    settings.LIVE_METRICS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    settings.LIVE_METRICS_FLUSH_S = 3600
    live_metrics._counts.clear()
    live_metrics._open.clear()
    live_metrics._last_flush, live_metrics._armed_loop = time.monotonic(), None
    yield
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"{settings.LIVE_METRICS_PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def fleet_staff(db: Any) -> Any:
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=roles.SUPPORT_AGENT))
    return user
