"""Command reads. The rides app judges its unlocks and locks by them (``rides.services``' sweep and end)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from fleet import errors
from fleet.models import Command, CommandState


def command_get(*, command_id: uuid.UUID) -> Command:
    try:
        return Command.objects.get(id=command_id)
    except Command.DoesNotExist:
        raise errors.CommandNotFound() from None


def command_state(*, command_id: uuid.UUID) -> str | None:
    """The command's state (a ``CommandState`` value), ``None`` when there is no such command."""
    return Command.objects.filter(id=command_id).values_list("state", flat=True).first()


def commands_acked() -> QuerySet[Command]:
    """Commands the vehicle acknowledged (also late), for other apps' ``Exists`` subqueries."""
    return Command.objects.filter(state=CommandState.ACKED)


def commands_with_key(*, idempotency_key: Any) -> QuerySet[Command]:
    """The command queued under this key (a string, or an expression such as ``Concat(..., OuterRef(...))`` in a
    subquery); at most one, the key is unique."""
    return Command.objects.filter(idempotency_key=idempotency_key)


def vehicle_commands_recent(*, vehicle_id: uuid.UUID, limit: int) -> list[Command]:
    """The vehicle's newest commands with who sent them (index command_vehicle_created)."""
    return list(Command.objects.filter(vehicle_id=vehicle_id).select_related("actor").order_by("-created_at")[:limit])
