"""The WebSocket edge: ``/ws/v1/rides/<id>``, ``/ws/v1/fleet?city=<id>[&bbox=...]``, ``/ws/v1/me``.

Protocol (docs/live.md): every server message is ``{"type", "seq", "data"}``; the first one after a
(re)connect is a ``snapshot``; ``ping``/``pong`` both ways; a client reconnecting with ``?last_seq=N`` continues
at ``N+1`` with a fresh snapshot instead of the gap. Handshakes are refused (HTTP 403) for anonymous callers,
foreign rides, missing permissions and malformed queries alike, so a refusal reveals nothing.

Close codes: 4001 token expired, 4008 client too slow / unresponsive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from core.errors import DomainError
from core.parsers import json_loads
from live import auth, metrics, selectors
from live.state import TELEMETRY_FIELDS, RideLive

logger = logging.getLogger(__name__)

CLOSE_TOKEN_EXPIRED = 4001
CLOSE_TOO_SLOW = 4008
# Ride events sent at once, never coalesced; a pending coalesced ride.updated is flushed before them.
RIDE_IMMEDIATE = ("ride.ended", "ride.command", "ride.zone_warning")


class Refused(Exception):
    """The handshake is refused (HTTP 403)."""


class LiveConsumer(AsyncWebsocketConsumer):
    """Sequence numbers, heartbeats, flow control and token expiry; subclasses subscribe and snapshot.

    Flow control: the server counts the bytes it has sent since the last ``ping`` the client answered. A ping
    goes out every ``LIVE_HEARTBEAT_S`` and whenever half of ``LIVE_SEND_BUFFER_KB`` is unacknowledged; a
    client that leaves more than the buffer unacknowledged, or a ping unanswered for ``LIVE_PONG_TIMEOUT_S``,
    is closed with 4008. That bounds what a slow reader can pile up in server memory.
    """

    stream = "live"
    # A kind whose volume the consumer paces itself (coalesced state that it withholds while the client is behind,
    # so its memory is bounded by the state, not by time): never a reason to drop the socket.
    paced: str | None = None

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.seq = 0
        self.sent_bytes = self.acked_bytes = self.ping_bytes = 0
        self.grace = 0  # bytes of the last paced burst, allowed on top of the buffer until acknowledged
        self.buffer_limit = settings.LIVE_SEND_BUFFER_KB * 1024
        self.pings: dict[int, tuple[int, float]] = {}  # ping seq -> (sent_bytes after it, monotonic time)
        self.tasks: list[asyncio.Task[None]] = []
        self.coalescers: list[Coalescer] = []
        self.closed = False
        self.counted = False  # counted in live.metrics as an open socket
        self.groups: list[str] = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse()
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        try:
            self.seq = max(0, int(query.get("last_seq", ["0"])[0]))
            self.subscribe(user, query)
        except (Refused, ValueError):
            await self._refuse()
            return
        # Join the groups before reading the state the snapshot shows, so nothing pushed in between is lost
        # (it may overlap the snapshot). No handler runs before this one returns, so nothing is sent early.
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        try:
            await self.load(user)
        except (Refused, DomainError):
            for group in self.groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            self.groups = []
            await self._refuse()
            return
        subprotocol = auth.SUBPROTOCOL if auth.SUBPROTOCOL in self.scope.get("subprotocols", []) else None
        await self.accept(subprotocol)
        self.counted = True
        metrics.opened(self.stream)
        await self.emit("snapshot", resumed="last_seq" in query)
        await self.after_snapshot()
        self.buffer_limit += self.sent_bytes  # a big fleet snapshot is not held against the client
        self.tasks.append(asyncio.create_task(self._heartbeat()))
        self._arm_expiry(float(self.scope.get("auth_expires_at") or 0))

    async def _refuse(self) -> None:
        metrics.refused(self.stream)
        await self.close()  # before accept: HTTP 403

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        """Parse the URL and set ``self.groups`` (no I/O). Raise ``Refused`` or ``ValueError`` to refuse."""
        raise NotImplementedError

    async def load(self, user: Any) -> None:
        """Check access and read what ``snapshot_json`` shows. Raise ``Refused`` or a ``DomainError`` to refuse."""

    async def snapshot_json(self) -> dict[str, Any]:
        raise NotImplementedError

    async def after_snapshot(self) -> None:
        """Send what did not fit in the snapshot message (a big fleet's vehicles)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' dispatch closes stale DB connections (a thread hop) before every message; these handlers
        # reach the database only through database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def emit(self, kind: str, data: Any = None, **extra: Any) -> None:
        """Send one message with the next sequence number (``snapshot`` data is built here)."""
        if self.closed:
            return
        if kind == "snapshot":
            data = await self.snapshot_json()
        self.seq += 1
        body = {"type": kind, "seq": self.seq, **extra}
        if data is not None:
            body["data"] = data
        raw = _dumps(body)
        text = raw.decode()
        self.sent_bytes += len(raw)  # bytes on the wire (UTF-8), what the client's buffer holds
        # Snapshots, paced kinds and the heartbeat itself are never the reason to drop (a ping is how the
        # client gets to say it caught up).
        if not kind.startswith("snapshot") and kind not in (self.paced, "ping", "pong") and (
                self.sent_bytes - self.acked_bytes > self.buffer_limit + self.grace):
            await self.drop(CLOSE_TOO_SLOW, "too slow")
            return
        try:
            await self.send(text_data=text)
        except Exception as exc:  # noqa: BLE001 - usually the client went away; its websocket.disconnect is on its way
            # The client went away between two messages (autobahn's Disconnected: a heartbeat racing a close) is
            # routine: thousands of sockets closing at once logged a traceback each. Anything else (a message
            # over Daphne's 1 MiB limit) is a bug to see.
            gone = type(exc).__name__ == "Disconnected"
            logger.log(logging.DEBUG if gone else logging.WARNING, "live: send of %s (%d bytes) failed; socket closed",
                       kind, len(text), exc_info=not gone)
            self.closed = True
            return
        metrics.sent(self.stream, len(raw))
        if kind != "ping" and not kind.startswith("snapshot") and (
                self.sent_bytes - self.ping_bytes > self.buffer_limit // 2):
            await self.ping()

    async def ping(self) -> None:
        self.ping_bytes = self.sent_bytes
        await self.emit("ping")
        self.pings[self.seq] = (self.sent_bytes, time.monotonic())

    async def drop(self, code: int, reason: str) -> None:
        if not self.closed:
            self.closed = True
            metrics.dropped(code)
            await self.close(code=code, reason=reason)

    async def _heartbeat(self) -> None:
        while not self.closed:
            await asyncio.sleep(settings.LIVE_HEARTBEAT_S)
            if self.pings and time.monotonic() - min(t for _, t in self.pings.values()) > settings.LIVE_PONG_TIMEOUT_S:
                await self.drop(CLOSE_TOO_SLOW, "no pong")
                return
            await self.ping()

    def _arm_expiry(self, expires_at: float) -> None:
        for task in [t for t in self.tasks if t.get_name() == "expiry"]:
            task.cancel()
            self.tasks.remove(task)

        async def expire() -> None:
            await asyncio.sleep(max(0.0, expires_at - time.time()))
            await self.drop(CLOSE_TOKEN_EXPIRED, "token expired")

        self.tasks.append(asyncio.create_task(expire(), name="expiry"))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            message = json_loads(text_data or "")
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "pong" and isinstance(message.get("seq"), int):
            acked = [s for s in self.pings if s <= message["seq"]]
            if acked:
                self.acked_bytes = max(self.acked_bytes, self.pings[max(acked)][0])
                for s in acked:
                    del self.pings[s]
                await self.caught_up()
        elif kind == "ping":
            await self.emit("pong")
        elif kind == "auth" and isinstance(message.get("token"), str):
            await self._reauth(message["token"])

    def behind(self) -> bool:
        """More than half the send buffer (beyond the snapshot) is unacknowledged: a paced stream waits for the
        client's pong."""
        half = settings.LIVE_SEND_BUFFER_KB * 1024 // 2  # buffer_limit also holds the snapshot's allowance
        return self.sent_bytes - self.acked_bytes > self.buffer_limit - half

    async def ask_ack(self) -> None:
        """Ping unless the last ping already covers everything sent, so the client's pong tells where it is."""
        last = max((sent for sent, _ in self.pings.values()), default=-1)
        if last < self.sent_bytes:
            await self.ping()

    async def caught_up(self) -> None:
        """A pong moved ``acked_bytes``; a paced stream may send what it withheld."""

    async def _reauth(self, token: str) -> None:
        """A fresh access token of the same user extends the socket past the old token's expiry."""
        found = await database_sync_to_async(auth.user_for_token)(token)
        if found is None or found[0].pk != self.scope["user"].pk:
            await self.emit("auth.refused")
            return
        self._arm_expiry(found[1])
        await self.emit("auth.ok", {"expires_at": found[1]})

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        self.closed = True
        if self.counted:
            self.counted = False
            metrics.closed(self.stream)
        for task in self.tasks:
            task.cancel()
        for coalescer in self.coalescers:
            coalescer.cancel()
        for group in self.groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        raise StopConsumer()

    async def live_event(self, message: dict[str, Any]) -> None:
        """A push from ``live.push.to_ride / to_fleet / to_user``."""
        await self.emit(message["event"], message.get("payload"))

    async def live_positions(self, message: dict[str, Any]) -> None:
        """``live.push.fleet_positions``; only fleet sockets subscribe to the groups that carry it."""


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
        await self._flush()  # keep the order: a position seen before the warning/command/end goes first
        data = dict(payload)
        if event == "ride.ended":
            # No database read here: thousands of rides may end at once (the snapshot has the full receipt).
            self.ride.apply_ended(payload)
            data.setdefault("ride", self.ride.to_json())
        await self.emit(event, data)


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


class MeConsumer(LiveConsumer):
    """``/ws/v1/me``: the signed-in user's notifications (``live.push.to_user``)."""

    stream = "me"

    def subscribe(self, user: Any, query: dict[str, list[str]]) -> None:
        self.user_id = str(user.pk)
        self.groups = [f"user.{self.user_id}"]

    async def snapshot_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id}


def _dumps(body: dict[str, Any]) -> bytes:
    """A server message as compact JSON (UTF-8). orjson: much faster than ``json.dumps`` for these payloads (a
    ``ride.updated``, a 2,000-vehicle ``fleet.positions``), and Daphne serialises every message of every socket. Same text for what the pushes carry (str, int, float, bool, None, lists, dicts); anything
    orjson refuses (a Decimal, a non-string key) goes through Django's encoder as before."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder).encode()


def _vehicle_time(at: Any) -> float | None:
    """Epoch seconds of a payload's ``at`` (ISO 8601), None when absent or unreadable."""
    if not isinstance(at, str):
        return None
    try:
        return datetime.fromisoformat(at).timestamp()
    except ValueError:
        return None


def _parse_bbox(raw: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in raw.split(",")]
    if len(parts) != 4:
        raise ValueError("bbox needs 4 numbers")
    min_lon, min_lat, max_lon, max_lat = parts
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError("bbox out of range")
    return min_lon, min_lat, max_lon, max_lat
