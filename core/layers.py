"""The channel layer the platform runs on: channels_redis's pub/sub layer plus a synchronous, batched publish.

``PubSubLayer`` is configured as the ``pubsub`` backend of ``CHANNEL_LAYERS`` (config/settings.py). Daphne
processes use it exactly as ``channels_redis.pubsub.RedisPubSubChannelLayer`` (it adds nothing on the receiving
side). Sync processes (web requests, Celery tasks, the telemetry drainer) push through ``group_send_many``:

- ``async_to_sync(group_send)`` builds a new event loop and with it a new Redis connection per call; this keeps
  one pooled sync client per layer (per process);
- a telemetry batch commits hundreds of ``ride.updated``: they leave as one pipelined round trip.

The layer reads its configuration from its own constructor arguments (the documented ``hosts`` and ``prefix``)
and its wire format (the Redis channel a group is published on) lives in ``group_channel`` only.
``tests/live/test_end_to_end.py`` checks it against a real Daphne process, so a channels_redis upgrade that
changes the format fails that test instead of sending every push nowhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubLayer(RedisPubSubChannelLayer):  # type: ignore[misc]  # channels_redis is untyped
    def __init__(self, *args: Any, hosts: list[Any] | None = None, prefix: str = "asgi", **kwargs: Any) -> None:
        super().__init__(*args, hosts=hosts, prefix=prefix, **kwargs)
        self.prefix = prefix
        # One Redis URL: pushes from sync processes go out on a pooled sync client. Several hosts (sharding) or
        # dict-configured hosts: the layer itself picks the shard, through ``group_send``.
        self.publish_url = hosts[0] if hosts and len(hosts) == 1 and isinstance(hosts[0], str) else None
        self._client: redis.Redis | None = None

    @property
    def can_send_sync(self) -> bool:
        """``group_send_many`` is available (a single Redis URL)."""
        return self.publish_url is not None

    def group_channel(self, group: str) -> str:
        """The Redis pub/sub channel ``group_add`` subscribes a group's members to (channels_redis 4.x)."""
        return f"{self.prefix}__group__{group}"

    def group_send_many(self, messages: Iterable[tuple[str, bytes]]) -> None:
        """Send already serialised (``serialize``) messages to their groups, from sync code, in one round trip.

        Equivalent to ``group_send(group, message)`` for each one; raises what redis-py raises.
        """
        if self.publish_url is None:
            raise RuntimeError("group_send_many needs a single Redis URL in hosts; use group_send")
        if self._client is None:
            self._client = redis.Redis.from_url(self.publish_url)
        pipe = self._client.pipeline(transaction=False)
        for group, payload in messages:
            pipe.publish(self.group_channel(group), payload)
        pipe.execute()
