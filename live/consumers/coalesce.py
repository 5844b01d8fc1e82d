"""The coalescer: a leading-edge throttle the ride and fleet sockets send their position updates through."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from live.consumers.base import LiveConsumer


class Coalescer:
    """Leading-edge throttle: the first call after a quiet interval sends at once, later ones wait for the
    interval to pass and go out together. ``flush`` (an async callable) sends whatever is pending."""

    def __init__(self, owner: LiveConsumer, interval_s: float, flush: Any) -> None:
        self.interval_s, self.flush = interval_s, flush
        self.last = 0.0
        self.task: asyncio.Task[None] | None = None
        owner.coalescers.append(self)

    async def kick(self) -> None:
        if self.task is not None:
            return
        wait = self.last + self.interval_s - time.monotonic()
        if wait <= 0:
            await self.send_now()
            return
        self.task = asyncio.create_task(self._later(wait))

    async def _later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self.task = None
        await self.send_now()

    async def send_now(self) -> None:
        self.last = time.monotonic()
        await self.flush()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
