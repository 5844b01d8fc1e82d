from __future__ import annotations

from typing import Any


def user_authentication_rule(user: Any) -> bool:
    """simplejwt hook: only active, non-deleted accounts may authenticate; blocked ones get a clear error."""
    return user is not None and user.is_active and user.status == "active"
