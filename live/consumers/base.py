"""The shared machinery of every socket: handshake and its refusal, sequence numbers, heartbeat, flow control
(the send buffer) and token expiry. Subclasses (``ride``, ``fleet``, ``me``) subscribe and snapshot."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any
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
from live import auth, metrics

if TYPE_CHECKING:
    from live.consumers.coalesce import Coalescer

logger = logging.getLogger(__name__)

CLOSE_TOKEN_EXPIRED = 4001
CLOSE_FORBIDDEN = 4003  # no longer allowed (a staff member's cities changed): as a 403 at the handshake
CLOSE_TOO_SLOW = 4008


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
    paced: tuple[str, ...] = ()

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
        raw = dumps(body)
        text = raw.decode()
        self.sent_bytes += len(raw)  # bytes on the wire (UTF-8), what the client's buffer holds
        # Snapshots, paced kinds and the heartbeat itself are never the reason to drop (a ping is how the
        # client gets to say it caught up).
        if not kind.startswith("snapshot") and kind not in (*self.paced, "ping", "pong") and (
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
        """A push from ``core.push.to_ride / to_fleet / to_user``."""
        await self.emit(message["event"], message.get("payload"))

    async def live_positions(self, message: dict[str, Any]) -> None:
        """``core.push.fleet_positions``; only fleet sockets subscribe to the groups that carry it."""


def dumps(body: dict[str, Any]) -> bytes:
    """A server message as compact JSON (UTF-8). orjson: much faster than ``json.dumps`` for these payloads (a
    ``ride.updated``, a 2,000-vehicle ``fleet.positions``), and Daphne serialises every message of every socket. Same text for what the pushes carry (str, int, float, bool, None, lists, dicts); anything
    orjson refuses (a Decimal, a non-string key) goes through Django's encoder as before."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder).encode()
