"""Fleet signals.

``command_closed`` is sent after commit whenever a command reaches a final state (``acked``, ``failed``,
``timed_out``, ``expired``), with keyword arguments ``command`` (the ``Command``, in its final state),
``command_id``, ``vehicle_id``, ``kind`` and ``state``. Also importable as
``fleet.services.commands.command_closed``. It is sent a second time, with state ``acked``, when a success
answer arrives after the command had timed out or been cancelled (``command_ack``). Receivers (the rides app) must be idempotent, and a receiver that
fails is not retried, so consumers should also sweep for anything they missed.

Zone changes invalidate the compiled geofence caches whichever way the change is made (service, admin,
shell): the receivers below, connected in ``FleetConfig.ready``, do cache invalidation only.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

command_closed = Signal()


def send_command_closed(command: Any) -> None:
    """Announce a closed command once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: command_closed.send(
        sender=type(command), command=command, command_id=command.id, vehicle_id=command.vehicle_id,
        kind=command.kind, state=command.state,
    ))


def _zone_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from fleet.services.zones import zones_changed

    zones_changed(instance.city_id)


def connect() -> None:
    from fleet.models import Zone

    post_save.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_saved")
    post_delete.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_deleted")
    m2m_changed.connect(_zone_changed, sender=Zone.vehicle_types.through, dispatch_uid="fleet_zone_types")
