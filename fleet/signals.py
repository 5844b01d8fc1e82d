"""Fleet signals.

``command_closed`` is sent after commit whenever a command reaches a final state (``acked``, ``failed``,
``timed_out``, ``expired``), with keyword arguments ``command`` (the ``Command``, in its final state),
``command_id``, ``vehicle_id``, ``kind`` and ``state``. Also importable as
``fleet.services.commands.command_closed``. It is sent a second time, with state ``acked``, when a success
answer arrives after the command had timed out or been cancelled (``command_ack``). Receivers (the rides app) must be idempotent, and a receiver that
fails is not retried, so consumers should also sweep for anything they missed.

The receivers of the fleet app (zone changes) are in ``fleet.receivers``: this module is a leaf that services
import to send.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

command_closed = Signal()


def send_command_closed(command: Any) -> None:
    """Announce a closed command once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: command_closed.send(
        sender=type(command), command=command, command_id=command.id, vehicle_id=command.vehicle_id,
        kind=command.kind, state=command.state,
    ))
