"""Feeds permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``).

MDS: fleet managers see the agencies, their tokens (prefixes only) and the pulls; only admins create agencies,
issue tokens (the action needs ``change_agency``) and revoke them (``change_agencycredential``).
"""

from __future__ import annotations

_MDS_READ = ["feeds.view_agency", "feeds.view_agencycredential", "feeds.view_mdspull"]
_MDS_MANAGE = ["feeds.add_agency", "feeds.change_agency", "feeds.change_agencycredential"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "fleet_manager": _MDS_READ,
    "admin": _MDS_READ + _MDS_MANAGE,
}
