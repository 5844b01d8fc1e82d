"""``/ws/v1/rides/<ride_id>``: one ride, for its rider."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from live import selectors
from live.consumers.base import LiveConsumer
from live.consumers.coalesce import Coalescer
from live.state import TELEMETRY_FIELDS, RideLive


class RideConsumer(LiveConsumer):
    """``/ws/v1/rides/<ride_id>``: the ride's own rider only."""

    stream = "ride"

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        self.ride_id = uuid.UUID(str(self.scope["url_route"]["kwargs"]["ride_id"]))
        self.user = user
        self.groups = [f"ride.{self.ride_id}"]
        self.pending = False
        self.coalescer = Coalescer(self, settings.LIVE_RIDE_INTERVAL_MS / 1000, self._flush)
        self.sent_at: float | None = None  # the vehicle's time (``at``) of the last position sent

    async def load(self, user: Any) -> None:
        await self._reload()  # rides.errors.RideNotFound for anyone but the rider

    async def _reload(self) -> None:
        self.ride: RideLive = await database_sync_to_async(selectors.ride_live_get)(rider=self.user, ride_id=self.ride_id)

    async def snapshot_json(self) -> dict[str, Any]:
        return self.ride.to_json()

    async def _flush(self) -> None:
        if self.pending:
            self.pending = False
            self.sent_at = _vehicle_time(self.ride.at)
            await self.emit("ride.updated", self.ride.to_json())

    async def live_event(self, message: dict[str, Any]) -> None:
        event, payload = message["event"], message.get("payload") or {}
        if event == "ride.updated":
            if any(name not in TELEMETRY_FIELDS for name in payload):
                # A state change from the rides services: applied in memory when the payload says it all
                # (otherwise read from the database), and never held back.
                if not self.ride.apply_ride_update(payload):
                    await self._reload()
                self.pending = True
                await self.coalescer.send_now()
                return
            self.ride.apply_telemetry(payload)
            self.pending = True
            # The interval is on the vehicle's clock: a reading at least an interval newer than the last one sent
            # goes at once, however close behind it arrives (the pipeline delivers in batches, so arrival times
            # jitter by hundreds of ms; an arrival-time throttle held every reading that came a little early for
            # up to the whole interval). Readings closer together than that, on either clock, are coalesced.
            at = _vehicle_time(payload.get("at"))
            if at is not None and self.sent_at is not None and at - self.sent_at >= self.coalescer.interval_s:
                await self.coalescer.send_now()
            else:
                await self.coalescer.kick()
            return
        # Every other event (ride.ended, ride.command, ride.zone_warning) goes at once, never coalesced; a pending
        # coalesced ride.updated is flushed first, to keep the order: a position seen before it goes first.
        await self._flush()
        data = dict(payload)
        if event == "ride.ended":
            # No database read here: thousands of rides may end at once (the snapshot has the full receipt).
            self.ride.apply_ended(payload)
            data.setdefault("ride", self.ride.to_json())
        await self.emit(event, data)


def _vehicle_time(at: Any) -> float | None:
    """Epoch seconds of a payload's ``at`` (ISO 8601), None when absent or unreadable."""
    if not isinstance(at, str):
        return None
    try:
        return datetime.fromisoformat(at).timestamp()
    except ValueError:
        return None
