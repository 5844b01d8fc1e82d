"""Zone changes invalidate the compiled geofence caches whichever way the change is made (service, admin,
shell): these receivers, connected in ``FleetConfig.ready``, do cache invalidation only."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from fleet.models import Zone
from fleet.services import zones


def _zone_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    zones.zones_changed(instance.city_id)


def connect() -> None:
    post_save.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_saved")
    post_delete.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_deleted")
    m2m_changed.connect(_zone_changed, sender=Zone.vehicle_types.through, dispatch_uid="fleet_zone_types")
