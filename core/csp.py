"""Content-Security-Policy for pages that open the live socket (the fleet map, the technicians' task page)."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.utils.csp import CSP


def live_socket_page_policy() -> dict[str, Any]:
    """The site's policy (``SECURE_CSP``, which already allows the map's tile server), plus the socket server's
    origin in ``connect-src`` when it is another host or port (``CONSOLE_MAP_SOCKET_ORIGIN``)."""
    site = cast(dict[str, list[str]], settings.SECURE_CSP)
    policy: dict[str, Any] = {key: list(value) for key, value in site.items()}
    if settings.CONSOLE_MAP_SOCKET_ORIGIN:
        policy["connect-src"] = [CSP.SELF, settings.CONSOLE_MAP_SOCKET_ORIGIN]
    return policy
