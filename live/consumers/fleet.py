"""``/ws/v1/fleet``: a city's vehicles (optionally in a box), for staff."""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from live import selectors
from live.consumers.base import LiveConsumer, Refused
from live.consumers.coalesce import Coalescer


class FleetConsumer(LiveConsumer):
    """``/ws/v1/fleet?city=<id>[&bbox=minlon,minlat,maxlon,maxlat]``: staff with the fleet read permission.

    Positions are coalesced: at most one update per vehicle per ``LIVE_FLEET_INTERVAL_MS``, sent together in
    one ``fleet.positions`` message. A vehicle that leaves the box is sent once as ``{"id", "removed": true}``.

    Positions are paced, not dropped: while more than half of ``LIVE_SEND_BUFFER_KB`` is unacknowledged the
    interval's positions are held and keep coalescing (at most one entry per vehicle of the box, so memory is
    bounded by the fleet, not by time) and go out when the client's pong shows it caught up. A whole-city map on
    a slow link gets fewer, larger updates instead of a 4008. Other fleet events (alarms, status changes, command
    outcomes, ops tasks) are not coalesced and keep the drop rule; a client that stops answering pings is still
    closed after ``LIVE_PONG_TIMEOUT_S``.
    """

    stream = "fleet"
    paced = "fleet.positions"

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        if "city" not in query:
            raise Refused()
        self.city_id = uuid.UUID(query["city"][0])
        self.bbox = _parse_bbox(query["bbox"][0]) if "bbox" in query else None
        self.groups = [f"fleet.{self.city_id}"]
        self.pending: dict[str, dict[str, Any]] = {}
        self.held = False  # an interval's positions wait for the client to catch up
        self.burst_end = 0
        self.visible: set[str] = set()
        self.coalescer = Coalescer(self, settings.LIVE_FLEET_INTERVAL_MS / 1000, self._flush)

    async def load(self, user: Any) -> None:
        if not await database_sync_to_async(selectors.fleet_may_watch)(user=user, city_id=self.city_id):
            raise Refused()

    async def snapshot_json(self) -> dict[str, Any]:
        vehicles = await database_sync_to_async(selectors.fleet_snapshot)(city_id=self.city_id, bbox=self.bbox)
        self.visible = {v["id"] for v in vehicles}
        self.pending.clear()
        # A WebSocket message is at most 1 MiB in Daphne (autobahn's payload limit): 10,000 vehicles are ~1.4 MB.
        # The snapshot carries the first part; ``snapshot.part`` messages follow at once with the rest.
        size = settings.LIVE_SNAPSHOT_PART
        self.snapshot_rest = [vehicles[i:i + size] for i in range(size, len(vehicles), size)]
        return {"city": str(self.city_id), "bbox": self.bbox, "vehicles": vehicles[:size],
                "more": bool(self.snapshot_rest)}

    async def after_snapshot(self) -> None:
        rest, self.snapshot_rest = self.snapshot_rest, []
        for index, part in enumerate(rest):
            await self.emit("snapshot.part", {"vehicles": part, "more": index < len(rest) - 1})

    def _inside(self, vehicle: dict[str, Any]) -> bool:
        if self.bbox is None:
            return True
        lon, lat = vehicle.get("lon"), vehicle.get("lat")
        if lon is None or lat is None:
            return False
        return self.bbox[0] <= lon <= self.bbox[2] and self.bbox[1] <= lat <= self.bbox[3]

    async def live_positions(self, message: dict[str, Any]) -> None:
        changed = False
        for vehicle in message["vehicles"]:
            vid = vehicle["id"]
            if self._inside(vehicle):
                self.pending[vid] = vehicle
                self.visible.add(vid)
                changed = True
            elif vid in self.visible:
                self.visible.discard(vid)
                self.pending[vid] = {"id": vid, "removed": True}
                changed = True
        if changed:
            await self.coalescer.kick()

    async def _flush(self) -> None:
        if not self.pending or self.closed:
            return
        if self.behind():
            self.held = True  # keep coalescing; caught_up sends them
            await self.ask_ack()
            return
        self.held = False
        vehicles, self.pending = list(self.pending.values()), {}
        before = self.sent_bytes
        # Like the snapshot, an interval's positions of a big city can pass Daphne's 1 MiB message limit
        # (autobahn refuses the message and the socket is lost): several messages.
        size = settings.LIVE_SNAPSHOT_PART
        for start in range(0, len(vehicles), size):
            await self.emit("fleet.positions", {"vehicles": vehicles[start:start + size]})
        # The burst may be bigger than the buffer (a whole city); the events that follow it before the client
        # acknowledges it are not held against the client for it.
        self.grace, self.burst_end = self.sent_bytes - before, self.sent_bytes

    async def caught_up(self) -> None:
        if self.acked_bytes >= self.burst_end:
            self.grace = 0
        if self.held and not self.behind():
            await self.coalescer.send_now()


def _parse_bbox(raw: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in raw.split(",")]
    if len(parts) != 4:
        raise ValueError("bbox needs 4 numbers")
    min_lon, min_lat, max_lon, max_lat = parts
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError("bbox out of range")
    return min_lon, min_lat, max_lon, max_lat
