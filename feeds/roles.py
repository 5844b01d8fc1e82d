"""Feeds permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``).

MDS: fleet managers see the agencies, their tokens (prefixes only) and the pulls; only admins create agencies,
issue tokens (the action needs ``change_agency``) and revoke them (``change_agencycredential``).

GBFS: support agents see the systems and alerts (riders ask about closures); fleet managers edit a system's public
details and post alerts; only admins create or delete a system (a new public dataset).
"""

from __future__ import annotations

_MDS_READ = ["feeds.view_agency", "feeds.view_agencycredential", "feeds.view_mdspull"]
_MDS_MANAGE = ["feeds.add_agency", "feeds.change_agency", "feeds.change_agencycredential"]
_GBFS_READ = ["feeds.view_gbfssystem", "feeds.view_gbfsalert"]
_GBFS_OPS = ["feeds.change_gbfssystem", "feeds.add_gbfsalert", "feeds.change_gbfsalert", "feeds.delete_gbfsalert"]
_GBFS_MANAGE = ["feeds.add_gbfssystem", "feeds.delete_gbfssystem"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "support_agent": _GBFS_READ,
    "fleet_manager": _MDS_READ + _GBFS_READ + _GBFS_OPS,
    "admin": _MDS_READ + _MDS_MANAGE + _GBFS_READ + _GBFS_OPS + _GBFS_MANAGE,
}
