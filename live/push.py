"""The one push helper: every live update leaves the platform through these functions.

Services (web processes and Celery workers alike) call them inside or outside a transaction; the message is sent
to the Redis channel layer only after the surrounding transaction commits (``transaction.on_commit``), so a rolled
back change is never pushed. A failed send is logged, never raised: the state is committed, a lost push is
repaired by the next snapshot.

Groups: ``ride.<ride_id>`` (the rider's ride socket), ``fleet.<city_id>`` (ops fleet sockets), ``user.<user_id>``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

logger = logging.getLogger(__name__)


def _json_safe(message: dict[str, Any]) -> dict[str, Any]:
    # UUIDs, datetimes and Decimals become strings here, once, instead of failing later in msgpack or in a
    # consumer's json.dumps, where nobody would see the error.
    return json.loads(json.dumps(message, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def _publisher(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _publish_sync(layer: Any, group: str, message: dict[str, Any]) -> bool:
    """The pub/sub layer's ``group_send`` is one PUBLISH: do it with a pooled sync client.

    ``async_to_sync(group_send)`` from a sync process (web request, Celery task) builds a new event loop and
    with it a new Redis connection per call; this keeps one connection pool per process. Same channel name and
    serialisation as ``RedisPubSubLoopLayer.group_send``, so any Daphne process receives it.
    """
    if not isinstance(layer, RedisPubSubChannelLayer):
        return False
    hosts = layer._kwargs.get("hosts") or []
    if len(hosts) != 1 or not isinstance(hosts[0], str):
        return False  # sharded or dict-configured: let the layer pick the shard
    prefix = layer._kwargs.get("prefix", "asgi")
    _publisher(hosts[0]).publish(f"{prefix}__group__{group}", layer.serialize(message))
    return True


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        message = _json_safe(message)
        if not _publish_sync(layer, group, message):
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # noqa: BLE001 - a push must never undo committed work
        logger.exception("live push to %s failed", group)


def _after_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: _send(group, message))


def to_ride(ride_id: uuid.UUID, event: str, payload: Mapping[str, Any]) -> None:
    """``event`` is one of ride.updated, ride.zone_warning, ride.command, ride.ended."""
    _after_commit(f"ride.{ride_id}", {"type": "live.event", "event": event, "payload": dict(payload)})


def to_fleet(city_id: uuid.UUID, event: str, payload: Mapping[str, Any]) -> None:
    """Ops events for a city: vehicle.status, vehicle.alarm, command.closed, ops_task.*."""
    _after_commit(f"fleet.{city_id}", {"type": "live.event", "event": event, "payload": dict(payload)})


def fleet_positions(city_id: uuid.UUID, vehicles: Sequence[Mapping[str, Any]]) -> None:
    """Latest position/status/battery of many vehicles in one message (coalesced by the consumer)."""
    if vehicles:
        _after_commit(f"fleet.{city_id}", {"type": "live.positions", "vehicles": [dict(v) for v in vehicles]})


def to_user(user_id: uuid.UUID, event: str, payload: Mapping[str, Any]) -> None:
    _after_commit(f"user.{user_id}", {"type": "live.event", "event": event, "payload": dict(payload)})
