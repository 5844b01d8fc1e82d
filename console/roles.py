"""Console permissions per staff role (merged into role groups by ``accounts.services.roles.roles_sync``).

The rider page (``console.support``) is opened with ``console.view_supportnote``: support, finance (refunds are
theirs) and admins. Field technicians and fleet managers do not see riders (accounts' boundary)."""

from __future__ import annotations

_SUPPORT = ["console.view_supportnote", "console.add_supportnote"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "support_agent": _SUPPORT,
    "finance": _SUPPORT,
    "admin": _SUPPORT,
}
