"""``/ws/v1/fleet``: a city's vehicles (optionally in a box), for staff."""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from core.parsers import json_loads
from live import selectors
from live.consumers import fleet_view
from live.consumers.base import CLOSE_FORBIDDEN, LiveConsumer, Refused
from live.consumers.coalesce import Coalescer


class FleetConsumer(LiveConsumer):
    """``/ws/v1/fleet?city=<id>[&bbox=minlon,minlat,maxlon,maxlat][&view=<json>]``: staff with the fleet read
    permission.

    The client may change its view without reconnecting: ``{"type": "view", "bbox", "filter", "grid",
    "max_vehicles"}`` answers with a fresh snapshot; with a ``grid`` and more than ``max_vehicles`` vehicles in
    the view, the socket shows grid cells (``fleet.cells``) instead of single vehicles (``fleet_view``).

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
    paced = ("fleet.positions", "fleet.cells")

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        if "city" not in query:
            raise Refused()
        self.city_id = uuid.UUID(query["city"][0])
        # ``view``: the JSON of a view message, so a map (re)connects straight into its view and grid.
        self.view = fleet_view.View.parse(json_loads(query["view"][0])) if "view" in query else fleet_view.View()
        if "bbox" in query:
            self.view.bbox = fleet_view.parse_bbox(query["bbox"][0])
        self.groups = [f"fleet.{self.city_id}"]
        self.pending: dict[str, dict[str, Any]] = {}
        self.held = False  # an interval's positions wait for the client to catch up
        self.burst_end = 0
        self.visible: set[str] = set()
        self.grid: fleet_view.Grid | None = None  # cells mode: the view's vehicles counted per cell
        self.types: dict[str, str] = {}  # vehicle id -> type code, for a type filter
        self.coalescer = Coalescer(self, settings.LIVE_FLEET_INTERVAL_MS / 1000, self._flush)

    @property
    def bbox(self) -> fleet_view.Bbox | None:
        return self.view.bbox

    async def load(self, user: Any) -> None:
        if not await database_sync_to_async(selectors.fleet_may_watch)(user=user, city_id=self.city_id):
            raise Refused()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """``{"type": "view", ...}`` changes what this socket shows and answers with a fresh snapshot, on the same
        socket: a map's pan, zoom or filter costs one snapshot, not a reconnect. Anything else: the base's."""
        try:
            message = json_loads(text_data or "")
        except ValueError:
            return
        if not (isinstance(message, dict) and message.get("type") == "view"):
            await super().receive(text_data, bytes_data)
            return
        try:
            view = fleet_view.View.parse(message)
        except (ValueError, TypeError) as exc:
            await self.emit("view.refused", {"error": str(exc)})
            return
        if not await database_sync_to_async(selectors.fleet_may_still_watch)(user_id=self.scope["user"].pk,
                                                                                city_id=self.city_id):
            # The staff member lost this city (or the fleet role) since the handshake: refused like there.
            await self.emit("view.refused", {"error": "forbidden"})
            await self.drop(CLOSE_FORBIDDEN, "forbidden")
            return
        self.view = view
        before = self.sent_bytes
        await self.emit("snapshot", resumed=False)
        await self.after_snapshot()
        # Like the first snapshot, a view's snapshot is never held against the client's send buffer.
        self.acked_bytes += self.sent_bytes - before

    async def snapshot_json(self) -> dict[str, Any]:
        view = self.view
        if view.filters.needs_types():
            self.types = await database_sync_to_async(selectors.fleet_vehicle_types)(city_id=self.city_id)
        vehicles = await database_sync_to_async(selectors.fleet_snapshot)(city_id=self.city_id, bbox=view.bbox)
        for vehicle in vehicles:
            self.types[vehicle["id"]] = vehicle["type"]
        now = timezone.now()
        vehicles = [v for v in vehicles if view.inside(v) and view.filters.passes(v, v["type"], now)]
        self.pending.clear()
        self.grid = None
        size = settings.LIVE_SNAPSHOT_PART
        body: dict[str, Any] = {"city": str(self.city_id), **view.json(), "total": len(vehicles)}
        if view.grid is not None and len(vehicles) > view.max_vehicles:
            self.grid = fleet_view.Grid(view.grid)
            for vehicle in vehicles:
                self.grid.put(vehicle)
            self.visible = set()
            items, key, body["mode"] = self.grid.all_json(), "cells", "cells"
        else:
            self.visible = {v["id"] for v in vehicles}
            items, key, body["mode"] = vehicles, "vehicles", "vehicles"
        # A WebSocket message is at most 1 MiB in Daphne (autobahn's payload limit): 10,000 vehicles are ~1.4 MB.
        # The snapshot carries the first part; ``snapshot.part`` messages follow at once with the rest.
        self.snapshot_key = key
        self.snapshot_rest = [items[i:i + size] for i in range(size, len(items), size)]
        return {**body, key: items[:size], "more": bool(self.snapshot_rest)}

    async def after_snapshot(self) -> None:
        rest, self.snapshot_rest = self.snapshot_rest, []
        for index, part in enumerate(rest):
            await self.emit("snapshot.part", {self.snapshot_key: part, "more": index < len(rest) - 1})

    def _shown(self, vehicle: dict[str, Any], now: Any) -> bool:
        return self.view.inside(vehicle) and self.view.filters.passes(vehicle, self.types.get(vehicle["id"]), now)

    async def live_positions(self, message: dict[str, Any]) -> None:
        changed = False
        now = timezone.now()
        for vehicle in message["vehicles"]:
            vid = vehicle["id"]
            shown = self._shown(vehicle, now)
            if self.grid is not None:
                if shown:
                    self.grid.put(vehicle)
                else:
                    self.grid.remove(vid)
                changed = changed or bool(self.grid.changed)
            elif shown:
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
        if self.closed or not (self.pending or (self.grid is not None and self.grid.changed)):
            return
        if self.behind():
            self.held = True  # keep coalescing; caught_up sends them
            await self.ask_ack()
            return
        self.held = False
        before = self.sent_bytes
        # Like the snapshot, an interval's positions of a big city can pass Daphne's 1 MiB message limit
        # (autobahn refuses the message and the socket is lost): several messages.
        size = settings.LIVE_SNAPSHOT_PART
        if self.grid is not None:
            cells = self.grid.take_changed()
            for start in range(0, len(cells), size):
                await self.emit("fleet.cells", {"cells": cells[start:start + size]})
        else:
            vehicles, self.pending = list(self.pending.values()), {}
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
