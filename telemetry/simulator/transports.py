"""How simulated vehicles reach the platform: MQTT (several client connections) or HTTP (batched POSTs)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
import zlib
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import msgpack
import requests
from paho.mqtt import client as paho

from fleet.gateway import GatewayError
from telemetry import mqtt
from telemetry.simulator.vehicles import SimVehicle

logger = logging.getLogger(__name__)


class Transport(Protocol):
    stats: Counter[str]
    commands: queue.SimpleQueue[tuple[str, bytes]]

    def send(self, vehicle: SimVehicle, messages: list[dict[str, Any]], kind: str = "telemetry") -> None: ...
    def flush(self, timeout: float = 30.0) -> None: ...
    def close(self) -> None: ...


class MqttTransport:
    """``clients`` MQTT connections; a vehicle always publishes through the same one, so its messages stay in
    order. The first connection also subscribes to ``vehicles/+/commands`` (put on ``commands``)."""

    def __init__(self, *, clients: int = 4, qos: int = 1, prefix: str | None = None, url: str | None = None) -> None:
        self.qos, self.prefix = qos, prefix
        self.stats: Counter[str] = Counter()
        self.commands: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._subscribed = threading.Event()
        self._last: list[paho.MQTTMessageInfo | None] = [None] * clients
        self.clients = []
        run = uuid.uuid4().hex[:8]
        for index in range(clients):
            client = mqtt.make_client(f"freewheel-sim-{run}-{index}", url=url)
            client.max_inflight_messages_set(1000)
            if index == 0:
                client.on_connect = self._subscribe
                client.on_subscribe = lambda *args: self._subscribed.set()
                client.on_message = lambda c, u, m: self.commands.put((m.topic, bytes(m.payload)))
            try:
                mqtt.connect(client)
            except GatewayError:
                self.close()
                raise
            self.clients.append(client)
        self._subscribed.wait(5)

    def _subscribe(self, client: paho.Client, *args: Any) -> None:
        client.subscribe(mqtt.topic("+", "commands", prefix=self.prefix), qos=1)

    def send(self, vehicle: SimVehicle, messages: list[dict[str, Any]], kind: str = "telemetry") -> None:
        index = zlib.crc32(vehicle.id.bytes) % len(self.clients)
        payload = json.dumps({"secret": vehicle.secret, "messages": messages}, separators=(",", ":"))
        self._last[index] = self.clients[index].publish(mqtt.topic(vehicle.code, kind, prefix=self.prefix),
                                                        payload, qos=self.qos)
        self.stats["messages"] += len(messages)
        self.stats["publishes"] += 1

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until the broker has taken everything published so far (QoS 1) or it left the socket (QoS 0)."""
        for info in self._last:
            if info is not None:
                try:
                    info.wait_for_publish(timeout=timeout)
                except (RuntimeError, ValueError):
                    self.stats["unconfirmed"] += 1

    def close(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()


class HttpTransport:
    """Batched ``POST /api/v1/telemetry`` (MessagePack), one request per vehicle per ``batch`` messages, sent by
    ``workers`` threads with keep-alive sessions. Commands reach HTTP vehicles through the platform's gateway
    (``SimulatedGateway`` answers them), so ``commands`` stays empty."""

    def __init__(self, *, base_url: str, batch: int = 10, workers: int = 8) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/telemetry"
        self.batch = batch
        self.stats: Counter[str] = Counter()
        self.commands: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._buffers: dict[uuid.UUID, tuple[SimVehicle, list[dict[str, Any]]]] = {}
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sim-http")
        self._slots = threading.BoundedSemaphore(workers * 4)  # backpressure: at most this many requests queued
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def send(self, vehicle: SimVehicle, messages: list[dict[str, Any]], kind: str = "telemetry") -> None:
        buffer = self._buffers.setdefault(vehicle.id, (vehicle, []))[1]
        buffer.extend(messages)
        if len(buffer) >= self.batch or kind == "ack":
            self._post(vehicle, self._buffers.pop(vehicle.id)[1])

    def _post(self, vehicle: SimVehicle, messages: list[dict[str, Any]]) -> None:
        self._slots.acquire()
        future = self._pool.submit(self._request, vehicle.code, vehicle.secret, messages)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        self._slots.release()
        with self._lock:
            self._pending.discard(future)

    def _request(self, code: str, secret: str, messages: list[dict[str, Any]]) -> None:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        try:
            response = session.post(self.url, data=msgpack.packb(messages), timeout=30, headers={
                "Authorization": f"Vehicle {code}:{secret}", "Content-Type": "application/msgpack"})
        except requests.RequestException as exc:
            logger.warning("simulator: POST failed: %s", exc)
            self._count(http_errors=len(messages))
            return
        if response.status_code != 202:
            self._count(**{f"http_{response.status_code}": len(messages)})
            return
        body = response.json()
        self._count(messages=body["accepted"], rejected=body["rejected"], publishes=1)

    def _count(self, **counts: int) -> None:
        with self._lock:
            self.stats.update(counts)

    def flush(self, timeout: float = 30.0) -> None:
        """Send every vehicle's partial batch and wait for all requests."""
        for vehicle, messages in list(self._buffers.values()):
            self._post(vehicle, messages)
        self._buffers.clear()
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
