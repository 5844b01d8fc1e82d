"""Fleet signals.

``command_closed`` is sent after commit whenever a command reaches a final state (``acked``, ``failed``,
``timed_out``, ``expired``), with ``command_id``, ``vehicle_id``, ``kind`` and ``state`` keyword arguments.
Receivers (the rides app) must be idempotent: a closed command may be announced again by the sweep, and a
receiver that failed is not retried, so consumers should also sweep for anything they missed.

Zone changes invalidate the compiled geofence caches whichever way the change is made (service, admin,
shell): the receivers below, connected in ``FleetConfig.ready``, do cache invalidation only.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

command_closed = Signal()


def send_command_closed(*, command_id: uuid.UUID, vehicle_id: uuid.UUID, kind: str, state: str) -> None:
    """Announce a closed command once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: command_closed.send(
        sender=None, command_id=command_id, vehicle_id=vehicle_id, kind=kind, state=state
    ))


def _zone_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from fleet.services.zones import zones_changed

    zones_changed(instance.city_id)


def connect() -> None:
    from fleet.models import Zone

    post_save.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_saved")
    post_delete.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_deleted")
    m2m_changed.connect(_zone_changed, sender=Zone.vehicle_types.through, dispatch_uid="fleet_zone_types")
