"""The one push helper: every live update leaves the platform through these functions.

Services (web processes and Celery workers alike) call them inside or outside a transaction; the message is sent
to the Redis channel layer only after the surrounding transaction commits (``transaction.on_commit``), so a rolled
back change is never pushed. A failed send is logged, never raised: the state is committed, a lost push is
repaired by the next snapshot.

Groups: ``ride.<ride_id>`` (the rider's ride socket), ``fleet.<city_id>`` (ops fleet sockets), ``tasks.<city_id>``
(the technicians' task page: task events without the positions), ``user.<user_id>``.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from core import layers

logger = logging.getLogger(__name__)


def _json_safe(message: dict[str, Any]) -> dict[str, Any]:
    # UUIDs, datetimes and Decimals become strings here, once, instead of failing later in msgpack or in a
    # consumer's json.dumps, where nobody would see the error.
    return json.loads(json.dumps(message, cls=DjangoJSONEncoder))  # type: ignore[no-any-return]


_batch = threading.local()


@contextmanager
def batched() -> Iterator[None]:
    """Collect the pushes sent inside the block and publish them at its end in one Redis round trip.

    The telemetry worker wraps each batch's transaction in it: the hundreds of ``ride.updated`` a batch commits
    leave as one pipelined PUBLISH instead of one round trip each. Pushes still go only after commit (the
    ``on_commit`` hooks run inside the block and queue here; a rolled-back savepoint's pushes are dropped by
    Django before that). Nested blocks join the outermost one. Outside ``core.layers.PubSubLayer`` it changes
    nothing.
    """
    if getattr(_batch, "pending", None) is not None:
        yield
        return
    _batch.pending = []
    try:
        yield
    finally:
        pending, _batch.pending = _batch.pending, None
        if pending:
            _publish_many(pending)


def _sync_layer() -> layers.PubSubLayer | None:
    """The channel layer when it can publish from sync code (``core.layers.PubSubLayer`` with one Redis URL)."""
    layer = get_channel_layer()
    return layer if isinstance(layer, layers.PubSubLayer) and layer.can_send_sync else None


def _publish_many(pending: list[tuple[str, dict[str, Any]]]) -> None:
    layer = _sync_layer()
    if layer is None:
        for group, message in pending:
            _send_now(group, message)
        return
    try:
        layer.group_send_many([(group, _serialized(layer, message)) for group, message in pending])
    except Exception:  # noqa: BLE001 - a push must never undo committed work
        logger.exception("live push of %d messages failed", len(pending))


def _serialized(layer: Any, message: dict[str, Any]) -> bytes:
    """The layer's msgpack of the message; the JSON round trip only when msgpack refuses a value (a UUID, a
    datetime, a Decimal). Telemetry's payloads are plain already: a JSON round trip for
    each would cost a drainer CPU for nothing."""
    try:
        return bytes(layer.serialize(message))
    except (TypeError, ValueError, OverflowError):
        return bytes(layer.serialize(_json_safe(message)))


def _send(group: str, message: dict[str, Any]) -> None:
    pending = getattr(_batch, "pending", None)
    if pending is not None:
        pending.append((group, message))
        return
    _send_now(group, message)


def _send_now(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        message = _json_safe(message)
        if isinstance(layer, layers.PubSubLayer) and layer.can_send_sync:
            layer.group_send_many([(group, layer.serialize(message))])  # one PUBLISH on the pooled client
        else:
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


def to_tasks(city_id: uuid.UUID, event: str, payload: Mapping[str, Any]) -> None:
    """``ops_task.*`` for a city's task pages (``/ws/v1/ops/tasks``), which must not wake for every position."""
    _after_commit(f"tasks.{city_id}", {"type": "live.event", "event": event, "payload": dict(payload)})


def fleet_positions(city_id: uuid.UUID, vehicles: Sequence[Mapping[str, Any]]) -> None:
    """Latest position/status/battery of many vehicles in one message (coalesced by the consumer)."""
    if vehicles:
        _after_commit(f"fleet.{city_id}", {"type": "live.positions", "vehicles": [dict(v) for v in vehicles]})


def to_user(user_id: uuid.UUID, event: str, payload: Mapping[str, Any]) -> None:
    _after_commit(f"user.{user_id}", {"type": "live.event", "event": event, "payload": dict(payload)})
