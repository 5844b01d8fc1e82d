"""Fleet permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``)."""

from __future__ import annotations

_READ = [
    "fleet.view_city", "fleet.view_vehicletype", "fleet.view_vehicle", "fleet.view_vehicleevent",
    "fleet.view_command", "fleet.view_zone", "fleet.view_opsalert", "fleet.view_opstask",
    "fleet.view_importedpolicy", "fleet.view_opstasknote",
]
_FIELD = ["fleet.change_vehicle", "fleet.add_command", "fleet.set_vehicle_maintenance",
          "fleet.change_opsalert", "fleet.add_opstask", "fleet.change_opstask", "fleet.view_opstasknote",
          "fleet.add_opstasknote"]
_MANAGE = [
    "fleet.add_vehicle", "fleet.retire_vehicle", "fleet.rotate_vehicle_credential",
    "fleet.add_zone", "fleet.change_zone", "fleet.delete_zone",
    "fleet.add_vehicletype", "fleet.change_vehicletype", "fleet.change_city",
    # Where alerts go (webhook URLs and secrets, email lists): managers only.
    "fleet.view_alertendpoint", "fleet.add_alertendpoint", "fleet.change_alertendpoint",
    "fleet.delete_alertendpoint", "fleet.view_alertdelivery", "fleet.view_alertdeliveryattempt",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "support_agent": _READ,
    "field_technician": _READ + _FIELD,
    "fleet_manager": _READ + _FIELD + _MANAGE,
    "admin": _READ + _FIELD + _MANAGE + ["fleet.add_city", "fleet.delete_vehicletype"],
}

# Uploaded photos (core.views.media serves them): folder -> permission a staff member needs to open one.
MEDIA_PERMISSIONS: dict[str, str] = {"fleet/tasks/": "fleet.view_opstasknote"}
