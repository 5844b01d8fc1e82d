"""A recording vehicle gateway for tests: the network edge, and the only thing the command tests replace."""

from __future__ import annotations

from typing import ClassVar

from fleet.gateway import GatewayError, GatewayRejected, OutboundCommand


class RecordingGateway:
    sent: ClassVar[list[OutboundCommand]] = []
    behaviour: ClassVar[str] = "ok"  # ok | error | reject

    def send(self, message: OutboundCommand) -> None:
        if self.behaviour == "error":
            raise GatewayError("broker unreachable")
        if self.behaviour == "reject":
            raise GatewayRejected("unknown unit")
        self.sent.append(message)
