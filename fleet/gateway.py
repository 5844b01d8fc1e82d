"""The vehicle gateway: how commands leave the platform. Pluggable with the ``VEHICLE_GATEWAY`` setting.

A real gateway (MQTT broker, vendor HTTP API) implements ``send``; the acknowledgement comes back later through
telemetry, which calls ``fleet.services.command_ack``. ``SimulatedGateway`` lets the whole flow run without
hardware: its vehicles answer, answer late, refuse, or never answer (``VEHICLE_GATEWAY_SIM_MODE``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class GatewayError(Exception):
    """Transient: the gateway could not take the command now; the send is retried."""


class GatewayRejected(Exception):
    """Permanent: the gateway refused the command (unknown unit, bad payload); the command fails."""


@dataclass(frozen=True, slots=True)
class OutboundCommand:
    command_id: uuid.UUID
    correlation_id: uuid.UUID
    vehicle_id: uuid.UUID
    imei: str
    kind: str
    expires_at: datetime  # the unit must drop the command after this (it may arrive late)
    params: dict[str, Any] = field(default_factory=dict)


class VehicleGateway(Protocol):
    def send(self, message: OutboundCommand) -> None: ...


def get_gateway() -> VehicleGateway:
    gateway: VehicleGateway = import_string(settings.VEHICLE_GATEWAY)()
    return gateway


class SimulatedGateway:
    """Simulated IoT units. Modes: ``ack`` (answer ok after ``VEHICLE_GATEWAY_SIM_LAG_S``), ``fail`` (answer
    not-ok), ``silent`` (never answer), ``reject`` (refuse at the gateway), ``error`` (gateway down).
    Like a real unit, a simulated vehicle ignores a command that reaches it after ``expires_at``."""

    def send(self, message: OutboundCommand) -> None:
        # Here, not at the top: fleet.tasks needs this module's GatewayError while it loads (autoretry_for), and it
        # loads the services, which import this module; only this development fake queues a task.
        from fleet import tasks

        mode = settings.VEHICLE_GATEWAY_SIM_MODE
        lag = float(settings.VEHICLE_GATEWAY_SIM_LAG_S)
        if mode == "error":
            raise GatewayError("simulated gateway outage")
        if mode == "reject":
            raise GatewayRejected("simulated gateway refused the command")
        if mode == "silent" or (timezone.now().timestamp() + lag) >= message.expires_at.timestamp():
            return
        tasks.command_simulate_ack.apply_async((str(message.correlation_id), mode == "ack"), countdown=lag)
