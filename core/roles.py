"""Who reads the audit log (docs/audit.md): admins, and superusers through their flag.

Fleet managers will read the entries of their own cities once staff belong to cities (each entry stores its
``city_id`` for that one filter); until then they do not read it, as the log spans every city."""

from __future__ import annotations

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "admin": ["core.view_auditentry"],
}
