"""The MQTT edge: the bridge that feeds vehicle messages into the pipeline, and the command gateway.

Topics (``MQTT_TOPIC_PREFIX`` in front of each, empty by default; ``<vehicle>`` is the sticker code or the UUID)::

    vehicles/<vehicle>/telemetry   vehicle -> platform   telemetry messages (QoS 1)
    vehicles/<vehicle>/ack         vehicle -> platform   command acknowledgements (messages with ``ack``)
    vehicles/<vehicle>/errors      platform -> vehicle   why messages were refused (QoS 0)
    vehicles/<vehicle>/commands    platform -> vehicle   commands (QoS 1), from ``MqttGateway``

The payload of telemetry and ack topics is an envelope, JSON or MessagePack::

    {"secret": "<the vehicle's IoT secret>", "messages": [<wire message>, ...]}
    {"secret": "...", "seq": 1, "ts": ..., ...}          (one message: the envelope is the message)

The bridge authenticates the topic's vehicle with that secret (``fleet.selectors.vehicle_authenticate``; so a
unit cannot publish as another), then hands the messages to ``telemetry.ingest.ingest`` exactly as the HTTP edge
does. It takes MQTT messages in batches (``MQTT_BATCH_MAX`` or ``MQTT_BATCH_WAIT_MS``), merges the messages of one
vehicle into one stream entry, queues a batch in one Redis round trip and keeps each vehicle's authentication for
``MQTT_AUTH_CACHE_S`` seconds. Modules: ``connection`` (broker URL, paho clients, topics), ``bridge``, ``gateway``.
"""

from telemetry.mqtt.bridge import (
    AuthCache,
    Bridge,
    EnvelopeInvalid,
    bridge_stats,
    decode,
    ingest_many,
)
from telemetry.mqtt.connection import Broker, broker, connect, make_client, topic
from telemetry.mqtt.gateway import MqttGateway, command_payload

__all__ = [
    "AuthCache",
    "Bridge",
    "Broker",
    "EnvelopeInvalid",
    "MqttGateway",
    "bridge_stats",
    "broker",
    "command_payload",
    "connect",
    "decode",
    "ingest_many",
    "make_client",
    "topic",
]
