"""Rides permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``)."""

from __future__ import annotations

_READ = ["rides.view_ride", "rides.view_reservation", "rides.view_problemreport", "rides.view_riderating",
         "rides.view_cityridesettings"]
_OPS = ["rides.force_end_ride"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "support_agent": [*_READ, *_OPS],
    "field_technician": [*_READ],
    "fleet_manager": [*_READ, *_OPS, "rides.change_cityridesettings", "rides.add_cityridesettings"],
    "finance": ["rides.view_ride"],
    "admin": [*_READ, *_OPS, "rides.change_cityridesettings", "rides.add_cityridesettings"],
}

# Uploaded photos (core.views.media serves them): folder -> permission a staff member needs to open one.
MEDIA_PERMISSIONS: dict[str, str] = {
    "rides/problems/": "rides.view_problemreport",
    "rides/parking/": "rides.view_ride",
}
