"""The bridge: vehicles' MQTT messages -> authentication -> the telemetry streams (``manage.py telemetry_mqtt``)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import msgpack
import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from paho.mqtt import client as mqtt

from core.parsers import json_loads
from fleet import selectors as fleet_selectors
from fleet.gateway import GatewayError
from telemetry import ingest, streams
from telemetry.errors import TelemetryBacklogFull
from telemetry.ingest import ingest_many
from telemetry.mqtt.connection import connect, make_client, topic

logger = logging.getLogger(__name__)

INBOUND = ("telemetry", "ack")
MAX_PAYLOAD = 256 * 1024
AUTH_THREADS = 8
SESSION_EXPIRY_S = 86_400  # a persistent bridge session outlives a restart or deploy by this much



class EnvelopeInvalid(Exception):
    """A refused MQTT message. ``code`` is what the vehicle is told (the HTTP edge's error codes), ``counter`` the
    rejection counted in the pipeline's metrics (the same names as the HTTP edge counts)."""

    def __init__(self, code: str, message: str, counter: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.counter = code, message, counter or code


def _auth_failed(message: str) -> EnvelopeInvalid:
    return EnvelopeInvalid("vehicle_auth_failed", message, counter="auth_failed")


def decode(payload: bytes) -> tuple[str, list[object]]:
    """(secret, messages) of an envelope; ``EnvelopeInvalid`` when it cannot be read."""
    if len(payload) > MAX_PAYLOAD:
        raise EnvelopeInvalid("too_many_messages", f"at most {MAX_PAYLOAD} bytes per MQTT message")
    try:
        body = json_loads(payload) if payload[:1] in b"{ \t\r\n" else msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException):
        raise EnvelopeInvalid("malformed_request", "the payload is neither JSON nor MessagePack") from None
    if not isinstance(body, dict):
        raise EnvelopeInvalid("malformed_request", "the payload must be an object")
    secret = body.pop("secret", None)
    if not isinstance(secret, str) or not secret:
        raise _auth_failed("secret is required")
    messages = body.get("messages", [body])
    if not isinstance(messages, list) or not messages:
        raise EnvelopeInvalid("malformed_request", "messages must be a non-empty list")
    return secret, messages



class AuthCache:
    """``vehicle_authenticate`` answers per (topic vehicle, secret) for ``ttl`` seconds (refusals too, so a unit
    with a wrong secret does not cost a Redis read per message). A rotated secret stops working within ``ttl``."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], tuple[float, fleet_selectors.VehicleIdentity | None]] = {}
        self._pool: ThreadPoolExecutor | None = None

    def get(self, vehicle: str, secret: str) -> fleet_selectors.VehicleIdentity | None:
        if not fleet_selectors.credentials_bounded(vehicle, secret):  # refused, and never kept as a key
            return None
        cached = self._entries.get((vehicle, secret))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        return self._store((vehicle, secret), fleet_selectors.vehicle_authenticate(vehicle, secret))

    def prefetch(self, pairs: set[tuple[str, str]]) -> None:
        """Authenticate the pairs not cached, several at once: each is a Redis read (a database read when fleet's
        cache misses too), and one after the other they would stall a batch of many vehicles."""
        now = time.monotonic()
        missing = [pair for pair in pairs if fleet_selectors.credentials_bounded(*pair)
                   and ((cached := self._entries.get(pair)) is None or cached[0] <= now)]
        if len(missing) < 2 or self.ttl <= 0:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=AUTH_THREADS, thread_name_prefix="mqtt-auth")
        for pair, identity in zip(missing, self._pool.map(_authenticate, missing), strict=True):
            self._store(pair, identity)

    def _store(self, pair: tuple[str, str], identity: fleet_selectors.VehicleIdentity | None,
               ) -> fleet_selectors.VehicleIdentity | None:
        if self.ttl > 0:
            if len(self._entries) > 200_000:
                self._entries.clear()
            self._entries[pair] = (time.monotonic() + self.ttl, identity)
        return identity


def _authenticate(pair: tuple[str, str]) -> fleet_selectors.VehicleIdentity | None:
    close_old_connections()  # this pool thread's own connection may have been closed by PostgreSQL
    return fleet_selectors.vehicle_authenticate(*pair)


@dataclass(slots=True)
class _Group:
    identity: fleet_selectors.VehicleIdentity
    received_at: float
    payloads: list[object]


class Bridge:
    """Subscribes to the vehicles' topics and feeds ``ingest``. ``start()``, then ``run(stop_event)`` in the
    calling thread; paho's network thread only queues the messages, batches are processed by ``run``."""

    def __init__(self, *, client_id: str, clean_session: bool = False, prefix: str | None = None,
                 shared_group: str | None = None, batch_max: int | None = None, batch_wait_ms: int | None = None,
                 auth_cache_s: float | None = None, url: str | None = None) -> None:
        self.prefix = settings.MQTT_TOPIC_PREFIX if prefix is None else prefix
        group = settings.MQTT_SHARED_GROUP if shared_group is None else shared_group
        self.filters = [(f"$share/{group}/" if group else "") + topic("+", kind, prefix=self.prefix)
                        for kind in INBOUND]
        self.batch_max = batch_max or settings.MQTT_BATCH_MAX
        self.batch_wait = (batch_wait_ms or settings.MQTT_BATCH_WAIT_MS) / 1000
        self.auth = AuthCache(settings.MQTT_AUTH_CACHE_S if auth_cache_s is None else auth_cache_s)
        self.stats: Counter[str] = Counter()
        self.subscribed = threading.Event()
        self._inbox: queue.SimpleQueue[tuple[str, bytes, float]] = queue.SimpleQueue()
        self.session_expiry_s = 0 if clean_session else SESSION_EXPIRY_S
        self.client = make_client(client_id, url=url, v5=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # paho's network thread ------------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.error("mqtt bridge: broker refused the connection: %s", reason)
            return
        logger.info("mqtt bridge: connected, subscribing to %s", ", ".join(self.filters))
        client.subscribe([(f, 1) for f in self.filters])  # again after every reconnect (clean sessions lose them)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self.subscribed.clear()
        if reason.is_failure:
            logger.warning("mqtt bridge: disconnected (%s), reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put((message.topic, bytes(message.payload), time.time()))

    # the processing thread ------------------------------------------------------------------------------

    def start(self, *, timeout: float = 10.0) -> None:
        try:
            connect(self.client, timeout=timeout, session_expiry_s=self.session_expiry_s)
        except GatewayError:
            logger.warning("mqtt bridge: broker not reachable yet, retrying in the background")
        self.client.loop_start()

    def run(self, stop: threading.Event) -> None:
        """Process batches until ``stop`` is set; then disconnect and process what was already received."""
        while not stop.is_set():
            self.poll(timeout=0.5, stop=stop)
        self.client.disconnect()
        self.client.loop_stop()
        while batch := self._next_batch(timeout=0):
            self._process_retrying(batch, None)
        logger.info("mqtt bridge: stopped; %s", dict(self.stats))

    def poll(self, *, timeout: float, stop: threading.Event | None = None) -> Counter[str]:
        """Process one batch (waiting up to ``timeout`` for its first message); returns its counters. While Redis
        or PostgreSQL is away the batch is kept and tried again until ``stop`` is set."""
        batch = self._next_batch(timeout=timeout)
        return self._process_retrying(batch, stop) if batch else Counter()

    def _process_retrying(self, batch: list[tuple[str, bytes, float]], stop: threading.Event | None) -> Counter[str]:
        # A retried batch may queue some messages twice (its XADD went through, a later call failed): the pipeline
        # drops duplicates by (vehicle, seq). Meanwhile paho keeps receiving into memory.
        delay = 1.0
        while True:
            try:
                return self.process(batch)
            except (redis.RedisError, DatabaseError, TelemetryBacklogFull) as exc:  # the last: backpressure
                if isinstance(exc, DatabaseError):
                    close_old_connections()  # a long-running process: drop the connection PostgreSQL closed
                if stop is None or stop.is_set():
                    logger.error("mqtt bridge: %d MQTT messages lost: %s", len(batch), exc)
                    self.stats["lost"] += len(batch)
                    return Counter(lost=len(batch))
                logger.warning("mqtt bridge: %s; the batch of %d is tried again in %.0f s", exc, len(batch), delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _next_batch(self, *, timeout: float) -> list[tuple[str, bytes, float]]:
        try:
            batch = [self._inbox.get(timeout=timeout) if timeout else self._inbox.get_nowait()]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_max:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.001)
        return batch

    def _vehicle_of(self, name: str) -> str | None:
        parts = name[len(self.prefix):].split("/") if name.startswith(self.prefix) else []
        if len(parts) != 3 or parts[0] != "vehicles" or parts[2] not in INBOUND or not parts[1]:
            return None
        return parts[1]

    def process(self, batch: list[tuple[str, bytes, float]]) -> Counter[str]:
        """Authenticate, merge per vehicle, ingest, report refusals; returns this batch's counters."""
        counts: Counter[str] = Counter(mqtt_messages=len(batch))
        refused: Counter[str] = Counter()
        decoded: list[tuple[str, str, list[object], float]] = []
        for name, payload, received_at in batch:
            vehicle = self._vehicle_of(name)
            if vehicle is None:
                counts["bad_topic"] += 1
                continue
            try:
                secret, messages = decode(payload)
            except EnvelopeInvalid as exc:
                self._refuse(vehicle, exc, refused)
                continue
            decoded.append((vehicle, secret, messages, received_at))
        self.auth.prefetch({(vehicle, secret) for vehicle, secret, _, _ in decoded})
        groups: dict[uuid.UUID, tuple[str, _Group]] = {}
        for vehicle, secret, messages, received_at in decoded:
            identity = self.auth.get(vehicle, secret)
            if identity is None:
                self._refuse(vehicle, _auth_failed("unknown vehicle or wrong secret"), refused)
                continue
            entry = groups.setdefault(identity.id, (vehicle, _Group(identity, received_at, [])))
            entry[1].payloads.extend(messages)
        results = ingest_many([(group.identity.id, group.payloads, group.received_at) for _, group in groups.values()],
                              refused=refused)
        for (vehicle, group), result in zip(groups.values(), results, strict=True):
            self._report(vehicle, group, result, counts)
        counts.update(refused)
        self.stats.update(counts)
        record(counts)
        return counts

    def _refuse(self, vehicle: str, exc: EnvelopeInvalid, refused: Counter[str]) -> None:
        refused[exc.counter] += 1
        self._reply(vehicle, {"code": exc.code, "message": exc.message})

    def _report(self, vehicle: str, group: _Group, result: ingest.IngestResult, counts: Counter[str]) -> None:
        counts["accepted"] += result.accepted
        counts["rejected"] += len(result.errors)
        if result.errors:
            errors = [{"seq": _seq(group.payloads[int(str(e["index"]))]), "code": e["code"], "message": e["message"]}
                      for e in result.errors]
            self._reply(vehicle, {"code": "validation_failed", "message": f"{len(errors)} message(s) refused",
                                  "errors": errors})

    def _reply(self, vehicle: str, body: dict[str, object]) -> None:
        self.client.publish(topic(vehicle, "errors", prefix=self.prefix), json.dumps(body), qos=0)


def record(counts: Counter[str]) -> None:
    """Add a batch's counters to the bridges' shared hash ``<TELEMETRY_STREAM_PREFIX>:mqtt`` (one round trip)."""
    pipe = streams.client().pipeline(transaction=False)
    for name, value in counts.items():
        pipe.hincrby(streams.key("mqtt"), name, value)
    pipe.hset(streams.key("mqtt"), "last_batch_at", f"{time.time():.3f}")
    pipe.execute()


def bridge_stats() -> dict[str, float]:
    """What the bridges did so far (for ``telemetry_status`` and the benchmark): counters and ``last_batch_at``."""
    raw = streams.client().hgetall(streams.key("mqtt"))
    return {k.decode(): float(v) for k, v in raw.items()}  # type: ignore[union-attr]


def _seq(payload: object) -> object:
    return payload.get("seq") if isinstance(payload, dict) else None
