"""How django-axes names the account an admin login tries (settings ``AXES_USERNAME_CALLABLE``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The email typed into the admin login, lower-cased: the login matches it case-insensitively
    (``UserManager.get_by_natural_key``), so ``Boss@x`` and ``boss@x`` must count against one lockout."""
    raw = (credentials or {}).get("username") or request.POST.get("username") or ""
    return str(raw).strip().lower()[:255]
