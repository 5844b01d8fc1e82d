"""Wiring only: a closed vehicle command moves its ride on (fleet sends ``command_closed`` after commit); saving
a city's ride settings invalidates their cache. Imported by ``RidesConfig.ready`` only (it imports models)."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models.signals import post_delete, post_save

from fleet.services.commands import command_closed
from rides import services
from rides.models import CityRideSettings
from rides.services import common

logger = logging.getLogger(__name__)


def _command_closed(sender: Any, command: Any, **kwargs: Any) -> None:
    try:
        services.ride_command_closed(command_id=command.id)
    except Exception:  # noqa: BLE001 - the ack itself is committed; the sweep task applies it later
        logger.exception("ride update after command %s failed; the sweep will retry", command.id)


def _settings_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    common.city_settings_changed(instance.city_id)


def connect() -> None:
    command_closed.connect(_command_closed, dispatch_uid="rides_command_closed")
    for signal in (post_save, post_delete):  # the admin edits the rows: invalidate the cached settings
        signal.connect(_settings_changed, sender=CityRideSettings, dispatch_uid=f"rides_settings_{signal is post_save}")
