"""Staff roles, and the permissions accounts grants them.

Every app may declare ``ROLE_PERMISSIONS`` in ``<app>/roles.py``; ``accounts.services.roles.roles_sync`` merges
them into one Django group per role (after every migrate, and with ``manage.py sync_roles``).
"""

from __future__ import annotations

FLEET_MANAGER = "fleet_manager"
FIELD_TECHNICIAN = "field_technician"
SUPPORT_AGENT = "support_agent"
FINANCE = "finance"
ADMIN = "admin"

ROLES: list[str] = [FLEET_MANAGER, FIELD_TECHNICIAN, SUPPORT_AGENT, FINANCE, ADMIN]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Support answers "why did my phone get nothing?": what was sent, to which installs, the rider's choices; and
    # removes a lost phone's install.
    SUPPORT_AGENT: ["accounts.view_user", "accounts.view_notification", "accounts.view_pushdelivery",
                    "accounts.view_device", "accounts.delete_device", "accounts.view_notificationpreference"],
    ADMIN: [
        "accounts.view_notification",
        "accounts.view_pushdelivery",
        "accounts.view_device",
        "accounts.delete_device",
        "accounts.view_notificationpreference",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "accounts.delete_user",
        "accounts.block_user",
        "auth.view_group",
    ],
}
