"""Writes of the live app: single-use WebSocket tickets (Redis, through Django's cache)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts import selectors as account_selectors
from accounts.auth import user_authentication_rule

_KEY = "live:ticket:{}"


def ws_ticket_issue(*, user: Any, token_expires_at: float) -> str:
    """A random ticket worth one WebSocket handshake as ``user`` within ``LIVE_TICKET_TTL_S`` seconds.

    The socket it opens ends (close code 4001) when the access token used to get the ticket expires, so a
    ticket never stretches a session; it carries a digest of the password hash (as access tokens do), so a
    password change or reset before the handshake voids it.
    """
    ticket = secrets.token_urlsafe(24)
    value = f"{user.pk}|{token_expires_at}|{get_md5_hash_password(user.password)}"
    cache.set(_KEY.format(ticket), value, timeout=settings.LIVE_TICKET_TTL_S)
    return ticket


def ws_ticket_redeem(*, ticket: str) -> tuple[Any, float] | None:
    """The ticket's user and session expiry, once: the first redeemer deletes the key, any later one gets None."""
    if not ticket or len(ticket) > 64:
        return None
    key = _KEY.format(ticket)
    value = cache.get(key)
    # Two handshakes racing with one ticket both may read it; only one DEL removes the key.
    if value is None or not cache.delete(key):
        return None
    user_id, expires, password_digest = (value.split("|", 2) + ["", ""])[:3]
    expires_at = float(expires)
    if expires_at <= time.time():
        return None
    user = account_selectors.user_get(user_id=user_id)
    if user is None or not user_authentication_rule(user):
        return None
    # A password change or reset since the ticket was issued ends it, as it ends the access token it came from.
    if not password_digest or password_digest != get_md5_hash_password(user.password):
        return None
    return user, expires_at
