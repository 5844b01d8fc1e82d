"""``MqttGateway``: fleet commands published to the vehicles' MQTT topics."""

from __future__ import annotations

import json
import os
import threading
import uuid

from paho.mqtt import client as mqtt

from fleet import selectors as fleet_selectors
from fleet.gateway import GatewayError, OutboundCommand
from telemetry.mqtt.connection import connect, make_client, topic


def command_payload(message: OutboundCommand) -> bytes:
    return json.dumps({
        "command_id": str(message.command_id), "correlation_id": str(message.correlation_id),
        "kind": message.kind, "params": message.params, "expires_at": message.expires_at.isoformat(),
    }).encode()


class MqttGateway:
    """``fleet.gateway.VehicleGateway`` over MQTT (``VEHICLE_GATEWAY=telemetry.mqtt.MqttGateway``): publishes the
    command with QoS 1 to ``vehicles/<code>/commands`` and waits for the broker to take it (``GatewayError`` if it
    does not: the send is retried). The unit answers on ``vehicles/<code>/ack``; the pipeline closes the command.
    One connection per process, opened on first use (after a fork too)."""

    connect_timeout = 5.0
    _lock = threading.Lock()
    _client: mqtt.Client | None = None
    _pid = 0

    @classmethod
    def _publisher(cls) -> mqtt.Client:
        with cls._lock:
            if cls._client is None or cls._pid != os.getpid():
                client = make_client(f"freewheel-gateway-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                connect(client, timeout=cls.connect_timeout)
                cls._client, cls._pid = client, os.getpid()
            return cls._client

    def send(self, message: OutboundCommand) -> None:
        code = fleet_selectors.vehicle_get(vehicle_id=message.vehicle_id).code
        info = self._publisher().publish(topic(code, "commands"), command_payload(message), qos=1)
        try:
            info.wait_for_publish(timeout=5)
        except (RuntimeError, ValueError) as exc:  # paho: not connected / queue refused
            raise GatewayError(f"MQTT publish failed: {exc}") from exc
        if not info.is_published():
            raise GatewayError("MQTT broker did not confirm the command within 5 s")
