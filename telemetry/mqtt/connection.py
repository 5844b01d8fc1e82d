"""Connecting to the MQTT broker (``MQTT_URL``) with paho, and the topic names."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fleet.gateway import GatewayError


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def broker(url: str | None = None) -> Broker:
    """``MQTT_URL``: ``mqtt://[user:password@]host[:1883]`` or ``mqtts://...[:8883]`` (TLS, system CAs)."""
    raw = url or settings.MQTT_URL
    parts = urlsplit(raw)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ImproperlyConfigured(f"MQTT_URL must be mqtt://host[:port] or mqtts://host[:port], got {raw!r}")
    tls = parts.scheme == "mqtts"
    return Broker(parts.hostname, parts.port or (8883 if tls else 1883),
                  unquote(parts.username) if parts.username else None,
                  unquote(parts.password) if parts.password else None, tls)


def topic(vehicle: str, kind: str, *, prefix: str | None = None) -> str:
    return f"{settings.MQTT_TOPIC_PREFIX if prefix is None else prefix}vehicles/{vehicle}/{kind}"


def make_client(client_id: str, *, clean_session: bool = True, url: str | None = None, v5: bool = False) -> mqtt.Client:
    """A paho client with credentials/TLS from ``MQTT_URL`` and reconnects backing off 1 s -> 60 s.

    MQTT 3.1.1 unless ``v5``: the bridge speaks 5 because a v5 client sets how many QoS 1 messages the broker
    may have in flight to it (Receive Maximum, 65,535 by default); for 3.1.1 clients Mosquitto allows 20 in
    flight and queues the rest up to ``max_queued_messages`` (1,000), dropping beyond that under a burst."""
    target = broker(url)
    if v5:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                             protocol=mqtt.MQTTv311)
    if target.username:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=60)
    client.max_queued_messages_set(0)  # unbounded: QoS 1 publishes wait for the broker, none is dropped here
    client.user_data_set(target)
    return client


def connect(client: mqtt.Client, *, timeout: float = 10.0, session_expiry_s: int = 0) -> None:
    """Connect in the background (``loop_start`` retries with backoff); wait up to ``timeout`` for the CONNACK.

    ``session_expiry_s`` (MQTT 5 clients): how long the broker keeps the session (subscriptions, queued QoS 1
    messages) after a disconnect; 0 starts clean every time."""
    target: Broker = client.user_data_get()
    if client.protocol == mqtt.MQTTv5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = session_expiry_s
        client.connect_async(target.host, target.port, keepalive=30, clean_start=session_expiry_s == 0,
                             properties=properties)
    else:
        client.connect_async(target.host, target.port, keepalive=30)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            client.loop_stop()
            raise GatewayError(f"MQTT broker {target.host}:{target.port} not reachable")
        time.sleep(0.01)
