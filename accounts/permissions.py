"""DRF permission helper for staff roles: ``permission_classes = [HasPerm("fleet.change_vehicle")]``."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def HasPerm(*perms: str) -> type[BasePermission]:  # noqa: N802 - reads like a class where it is used
    """A permission class granting access to authenticated users holding every one of ``perms``.

    Permissions come from the user's role groups (or superuser). Composes with DRF's ``&``/``|``.
    """
    if not perms or any("." not in perm for perm in perms):
        raise ValueError(f"HasPerm needs 'app_label.codename' strings, got {perms!r}")

    class _HasPerm(BasePermission):
        required = perms

        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(self.required))

    _HasPerm.__name__ = _HasPerm.__qualname__ = f"HasPerm({', '.join(perms)})"
    return _HasPerm
