"""``/ws/v1/ops/tasks``: ops task events of the cities a technician may work in, for the task page."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from live import selectors
from live.consumers.base import LiveConsumer, Refused


class TasksConsumer(LiveConsumer):
    """``/ws/v1/ops/tasks``: staff who may see ops tasks (``fleet.view_opstask``) get every ``ops_task.*`` event
    (opened, assigned, updated, closed) of their cities, and nothing else: the groups ``tasks.<city id>`` carry no
    positions (``core.push.to_tasks``), so a phone is not woken by a city's telemetry. The page applies an event by
    re-reading its list (its order is priority, then distance from the technician), so the socket sends the event's
    payload as it is and keeps no state; a reconnect's snapshot tells the page to re-read once."""

    stream = "tasks"

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        self.cities: list[str] = []  # groups are known after the access check (load)

    async def load(self, user: Any) -> None:
        cities = await database_sync_to_async(selectors.task_cities_for)(user=user)
        if cities is None:
            raise Refused()
        self.cities = [str(city_id) for city_id in cities]
        for city_id in self.cities:
            group = f"tasks.{city_id}"
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)

    async def snapshot_json(self) -> dict[str, Any]:
        return {"cities": self.cities}
