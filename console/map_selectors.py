"""Reads of the fleet map page (docs/console.md "Fleet map"): the page's start-up data, a vehicle's panel and
the layers (zones by kind, open alerts, open tasks). Vehicles themselves come from the fleet socket."""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse

from fleet import selectors as fleet_selectors
from fleet.models import City, CommandKind, OpsTaskKind, Vehicle, ZoneKind
from fleet.states import Status
from rides import selectors as rides_selectors

VIEW_PERMISSION = "fleet.view_vehicle"
LAYER_LIMIT = 2000  # open alerts / tasks drawn per city; the lists are one click away

# The panel's commands: kind -> (label, permission), the same permissions as the admin's actions and the staff
# API (fleet/roles.py): vehicle commands need fleet.add_command, back in service the maintenance permission.
COMMANDS: dict[str, tuple[str, str]] = {
    CommandKind.LOCK: ("Lock", "fleet.add_command"),
    CommandKind.UNLOCK: ("Unlock", "fleet.add_command"),
    CommandKind.LOCATE: ("Ring / locate", "fleet.add_command"),
    CommandKind.ALARM: ("Alarm", "fleet.add_command"),
    CommandKind.SET_SPEED_LIMIT: ("Speed limit", "fleet.add_command"),
    "back_in_service": ("Back in service", "fleet.set_vehicle_maintenance"),
}


def map_config(*, user: Any, city: City, cities: list[City]) -> dict[str, Any]:
    """What the page's script starts from (``json_script``): the city, where to look, the filters' choices."""
    extent = fleet_selectors.vehicles_extent(city_id=city.id)
    return {
        "city": {"id": str(city.id), "slug": city.slug, "name": city.name, "timezone": city.timezone},
        "extent": extent,
        "statuses": [{"value": value, "label": label} for value, label in Status.choices if value != Status.RETIRED],
        "types": [{"value": t.code, "label": t.name} for t in fleet_selectors.vehicle_types_all()],
        "zone_kinds": [{"value": value, "label": label} for value, label in ZoneKind.choices],
        "commands": [{"kind": kind, "label": label} for kind, (label, perm) in COMMANDS.items()
                     if user.has_perm(perm)],
        "urls": {
            "ticket": reverse("console-map-ticket"),
            "layers": reverse("console-map-layers", args=[city.id]),
            "vehicle": reverse("console-map-vehicle", args=[uuid.UUID(int=0)]),
            "command": reverse("console-map-command", args=[uuid.UUID(int=0)]),
            "task": reverse("console-map-task", args=[uuid.UUID(int=0)]),
        },
        # "Open a task" in the vehicle panel, for staff who may open tasks (fleet.add_opstask).
        "task_kinds": ([{"kind": value, "label": label} for value, label in OpsTaskKind.choices]
                       if user.has_perm("fleet.add_opstask") else []),
    }


def _vehicle_url(vehicle_id: Any) -> str:
    return reverse("admin:fleet_vehicle_change", args=[vehicle_id])


def vehicle_panel(*, user: Any, vehicle: Vehicle) -> dict[str, Any]:
    """The click panel: state, the open ride, open tasks and alerts, recent commands, the commands allowed."""
    ride = rides_selectors.ride_open_for_vehicle(vehicle_id=vehicle.id)
    alerts = tasks = []
    if user.has_perm("fleet.view_opsalert"):
        alerts = [{"id": str(a.id), "kind": a.get_kind_display(), "severity": a.severity, "message": a.message,
                   "opened_at": a.opened_at.isoformat(),
                   "url": reverse("admin:fleet_opsalert_change", args=[a.id])}
                  for a in fleet_selectors.ops_alerts_list(vehicle_id=vehicle.id).order_by("-opened_at")[:10]]
    if user.has_perm("fleet.view_opstask"):
        tasks = [{"id": str(t.id), "kind": t.get_kind_display(), "state": t.state, "reason": t.reason,
                  "created_at": t.created_at.isoformat(), "url": reverse("admin:fleet_opstask_change", args=[t.id])}
                 for t in fleet_selectors.ops_tasks_list(vehicle_id=vehicle.id).order_by("-created_at")[:10]]
    commands = [{"id": str(c.id), "kind": c.get_kind_display(), "params": c.params, "state": c.state,
                 "created_at": c.created_at.isoformat(), "failure_reason": c.failure_reason}
                for c in fleet_selectors.vehicle_commands_recent(vehicle_id=vehicle.id, limit=5)] \
        if user.has_perm("fleet.view_command") else []
    return {
        "id": str(vehicle.id), "code": vehicle.code, "type": vehicle.vehicle_type.name,
        "status": vehicle.status, "status_label": vehicle.get_status_display(), "battery_pct": vehicle.battery_pct,
        "locked": vehicle.locked, "speed_kph": vehicle.speed_kph, "lat": vehicle.lat, "lon": vehicle.lon,
        "position_at": vehicle.position_at.isoformat() if vehicle.position_at else None,
        "url": _vehicle_url(vehicle.id),
        "ride": None if ride is None else {
            "id": str(ride.id), "state": ride.state, "started_at": ride.started_at.isoformat() if ride.started_at else None,
            "url": reverse("admin:rides_ride_change", args=[ride.id])},
        "alerts": alerts, "tasks": tasks, "commands": commands,
        "allowed": [kind for kind, (_, perm) in COMMANDS.items() if user.has_perm(perm)],
    }


def map_layers(*, user: Any, city: City) -> dict[str, Any]:
    """Zones as GeoJSON (kind in each feature's properties), open alerts and open tasks at their vehicle."""
    zones = fleet_selectors.feature_collection(fleet_selectors.city_zones(city_id=city.id)) \
        if user.has_perm("fleet.view_zone") else {"type": "FeatureCollection", "features": []}
    alerts = tasks = []
    if user.has_perm("fleet.view_opsalert"):
        alerts = [_at_vehicle(a, {"kind": a.get_kind_display(), "severity": a.severity, "message": a.message,
                                  "url": reverse("admin:fleet_opsalert_change", args=[a.id])})
                  for a in fleet_selectors.ops_alerts_list(city_id=city.id).order_by("-opened_at")[:LAYER_LIMIT]]
    if user.has_perm("fleet.view_opstask"):
        tasks = [_at_vehicle(t, {"kind": t.get_kind_display(), "state": t.state, "reason": t.reason,
                                 "url": reverse("admin:fleet_opstask_change", args=[t.id])})
                 for t in fleet_selectors.ops_tasks_list(city_id=city.id).order_by("-created_at")[:LAYER_LIMIT]]
    return {"zones": zones, "alerts": [a for a in alerts if a["lat"] is not None],
            "tasks": [t for t in tasks if t["lat"] is not None]}


def _at_vehicle(row: Any, extra: dict[str, Any]) -> dict[str, Any]:
    vehicle = row.vehicle
    return {"id": str(row.id), "vehicle_id": str(vehicle.id), "code": vehicle.code, "lat": vehicle.lat,
            "lon": vehicle.lon, **extra}
