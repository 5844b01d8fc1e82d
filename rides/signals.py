"""Wiring only: a closed vehicle command moves its ride on (fleet sends ``command_closed`` after commit)."""

from __future__ import annotations

import logging
from typing import Any

from fleet.services.commands import command_closed

logger = logging.getLogger(__name__)


def _command_closed(sender: Any, command: Any, **kwargs: Any) -> None:
    from rides import services

    try:
        services.ride_command_closed(command_id=command.id)
    except Exception:  # noqa: BLE001 - the ack itself is committed; the sweep task applies it later
        logger.exception("ride update after command %s failed; the sweep will retry", command.id)


def connect() -> None:
    command_closed.connect(_command_closed, dispatch_uid="rides_command_closed")
