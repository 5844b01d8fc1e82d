"""Receivers connected in ``FleetConfig.ready``: zone changes invalidate the compiled geofence caches whichever
way the change is made (service, admin, shell); a closed command is told to its city's ops sockets
(``command.closed``, docs/live.md), which is how the fleet map shows a command's acknowledgement."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save

from core import push
from fleet import signals
from fleet.models import CommandKind, CommandState, OpsAlertKind, Vehicle, Zone
from fleet.services import ops, zones


def _zone_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    zones.zones_changed(instance.city_id)


def _command_closed(sender: Any, command: Any, **kwargs: Any) -> None:
    """After commit (``send_command_closed``): one indexed read for the city, then one push."""
    city_id = Vehicle.objects.filter(id=command.vehicle_id).values_list("city_id", flat=True).first()
    if city_id is None:
        return
    push.to_fleet(city_id, "command.closed", {
        "command_id": command.id, "vehicle_id": command.vehicle_id, "kind": command.kind, "params": command.params,
        "state": command.state, "failure_reason": command.failure_reason, "finished_at": command.finished_at,
    })


def _speed_limit_acked(sender: Any, command: Any, **kwargs: Any) -> None:
    """A speed limit the vehicle acknowledged clears its ``speed_limit_not_applied`` alert (resolved by the system)."""
    if command.kind == CommandKind.SET_SPEED_LIMIT and command.state == CommandState.ACKED:
        ops.ops_alerts_resolve_for(vehicle_ids=[command.vehicle_id], kind=OpsAlertKind.SPEED_LIMIT_NOT_APPLIED,
                                   reason=f"speed limit {command.params.get('max_speed_kph')} km/h acknowledged")


def connect() -> None:
    signals.command_closed.connect(_command_closed, dispatch_uid="fleet_command_closed_to_ops")
    signals.command_closed.connect(_speed_limit_acked, dispatch_uid="fleet_speed_limit_acked_alert")
    post_save.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_saved")
    post_delete.connect(_zone_changed, sender=Zone, dispatch_uid="fleet_zone_deleted")
    m2m_changed.connect(_zone_changed, sender=Zone.vehicle_types.through, dispatch_uid="fleet_zone_types")
