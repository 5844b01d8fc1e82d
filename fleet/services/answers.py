"""The vehicle's answers to commands (telemetry and the simulated gateway call ``command_ack``).

Apart from ``commands`` because a lock answer ends a hold for a lock (``securing``), and securing queues its
locks through ``commands``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from fleet import errors, signals
from fleet.models import Command, CommandKind, CommandState, Vehicle
from fleet.services import securing

logger = logging.getLogger(__name__)


def _lock_command(command_id: uuid.UUID | None, correlation_id: uuid.UUID | None) -> Command:
    lookup = {"id": command_id} if command_id is not None else {"correlation_id": correlation_id}
    try:
        return Command.objects.select_for_update().get(**lookup)
    except Command.DoesNotExist:
        raise errors.CommandNotFound() from None


@transaction.atomic
def command_ack(
    *, command_id: uuid.UUID | None = None, correlation_id: uuid.UUID | None = None, ok: bool,
    at: datetime | None = None, detail: str = "",
) -> Command:
    """The vehicle answered (telemetry calls this). Closes an open command as ``acked`` or ``failed``.

    Duplicate answers change nothing. A late answer to a timed-out or cancelled command is recorded
    (``acked_at``); a late success makes it ``acked`` (the vehicle did it: its truth wins over our timeout) and is
    announced again with ``command_closed``, so its owner can act on it (``finished_at`` and ``failure_reason``
    keep when and why we had given up). A successful lock/unlock updates the vehicle's lock state.
    ``CommandNotSent`` (409) if the command was never sent.
    """
    command = _lock_command(command_id, correlation_id)
    at = at or timezone.now()
    if command.state == CommandState.QUEUED:
        raise errors.CommandNotSent()
    if command.state in (CommandState.SENDING, CommandState.SENT):
        command.state = CommandState.ACKED if ok else CommandState.FAILED
        command.finished_at, command.failure_reason = timezone.now(), "" if ok else (detail or "vehicle refused")[:200]
        signals.send_command_closed(command)
    elif command.acked_at is not None or command.state not in (CommandState.TIMED_OUT, CommandState.CANCELLED):
        return command  # a duplicate answer, or an answer to a command that was never delivered
    elif ok:
        logger.info("late acknowledgement of %s command %s (%s)", command.kind, command.id, command.state)
        command.state = CommandState.ACKED
        signals.send_command_closed(command)
    command.acked_at = at
    command.save(update_fields=["state", "finished_at", "failure_reason", "acked_at"])
    if ok and command.kind in (CommandKind.LOCK, CommandKind.UNLOCK):
        Vehicle.objects.filter(id=command.vehicle_id).update(locked=command.kind == CommandKind.LOCK)
    if ok and command.kind == CommandKind.LOCK:  # any lock, also a late answer: it ends a hold for a lock
        securing.vehicle_lock_confirmed(vehicle_id=command.vehicle_id)
    return command
