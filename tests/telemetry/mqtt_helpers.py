"""Helpers of the MQTT tests: a subscriber on the real broker, topic prefixes of their own per test."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from typing import Any

from paho.mqtt import client as mqtt

from telemetry import mqtt as telemetry_mqtt


def unique_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}/"


class Listener:
    """Subscribes to ``filter_`` on the real broker and collects (topic, payload) pairs."""

    def __init__(self, filter_: str) -> None:
        self.messages: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self._ready = threading.Event()
        self.client = telemetry_mqtt.make_client(f"test-listener-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *a: c.subscribe(filter_, qos=1)
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        telemetry_mqtt.connect(self.client)
        assert self._ready.wait(5), "subscription not confirmed by the broker"

    def get(self, timeout: float = 5.0) -> tuple[str, bytes]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def publisher() -> mqtt.Client:
    client = telemetry_mqtt.make_client(f"test-pub-{uuid.uuid4().hex[:8]}")
    telemetry_mqtt.connect(client)
    return client


def publish(client: mqtt.Client, topic: str, payload: bytes | str, qos: int = 1) -> None:
    client.publish(topic, payload, qos=qos).wait_for_publish(timeout=5)


def drain(bridge: Any, *, until: int, timeout: float = 5.0) -> dict[str, int]:
    """Process the bridge's batches in this thread until ``until`` MQTT messages were handled."""
    totals: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while totals.get("mqtt_messages", 0) < until and time.monotonic() < deadline:
        for key, value in bridge.poll(timeout=0.2).items():
            totals[key] = totals.get(key, 0) + value
    return totals
