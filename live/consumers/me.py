"""``/ws/v1/me``: the signed-in user's notifications."""

from __future__ import annotations

from typing import Any

from live.consumers.base import LiveConsumer


class MeConsumer(LiveConsumer):
    """``/ws/v1/me``: the signed-in user's notifications (``core.push.to_user``)."""

    stream = "me"

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        self.user_id = str(user.pk)
        self.groups = [f"user.{self.user_id}"]

    async def snapshot_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id}
