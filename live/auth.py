"""WebSocket authentication: the REST API's JWT access tokens, or a single-use ticket, resolved at the handshake.

A client proves who it is in one of three ways (docs/live.md "Authentication"):

- ``Authorization: Bearer <access token>`` header (native apps, servers);
- the subprotocols ``freewheel.v1, bearer.<access token>`` (browsers cannot set headers; the server answers
  ``freewheel.v1`` and never echoes the token);
- ``?ticket=<ticket>`` from ``POST /api/v1/ws-ticket``: single use, valid ``LIVE_TICKET_TTL_S`` seconds.

A long-lived token is never accepted in the URL. The middleware puts ``user`` (or ``AnonymousUser``) and
``auth_expires_at`` (epoch seconds of the token's ``exp``) into the scope; consumers refuse anonymous users at
the handshake and close the socket with 4001 when ``auth_expires_at`` passes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.exceptions import TokenError

from accounts.auth import JWTAuthentication
from core.errors import DomainError
from live import services

logger = logging.getLogger(__name__)

SUBPROTOCOL = "freewheel.v1"
BEARER_PREFIX = "bearer."

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def user_for_token(raw: str) -> tuple[Any, float] | None:
    """The active user of a valid access token and the token's expiry (epoch seconds); None when refused.

    The same checks as a REST request (``accounts.auth.JWTAuthentication``): signature, expiry, token type,
    an active account, a password unchanged since the token was issued.
    """
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw.encode())
        user = auth.get_user(token)
    except (APIException, DomainError, TokenError):
        return None
    return user, float(token["exp"])


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin1"))
    return None


def _subprotocol_token(scope: Scope) -> str | None:
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(BEARER_PREFIX):
            return str(protocol[len(BEARER_PREFIX):])
    return None


def _resolve(scope: Scope) -> tuple[Any, float] | None:
    """Runs in a thread (ORM): header first, then subprotocol, then ticket."""
    header = _header(scope, b"authorization")
    if header is not None:
        kind, _, raw = header.partition(" ")
        return user_for_token(raw.strip()) if kind.lower() == "bearer" else None
    raw_token = _subprotocol_token(scope)
    if raw_token is not None:
        return user_for_token(raw_token)
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    tickets = query.get("ticket")
    if tickets:
        return services.ws_ticket_redeem(ticket=tickets[0])
    return None


class JWTAuthMiddleware:
    """ASGI middleware for the WebSocket router: sets ``scope["user"]`` and ``scope["auth_expires_at"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        found = await database_sync_to_async(_resolve)(scope)
        user, expires_at = found if found is not None else (AnonymousUser(), 0.0)
        await self.app(dict(scope, user=user, auth_expires_at=expires_at), receive, send)


class OriginCheck(OriginValidator):
    """A browser's ``Origin`` must be one of ``ALLOWED_HOSTS``; clients that send none (native apps) pass.

    Channels' ``AllowedHostsOriginValidator`` refuses a missing Origin, which would shut out mobile apps. No
    cookie authenticates a socket, so this is defence in depth: pages of other sites cannot open sockets here
    even with a token or ticket they got hold of.
    """

    def __init__(self, application: ASGIApp) -> None:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        super().__init__(application, allowed)

    def valid_origin(self, parsed_origin: Any) -> bool:
        return parsed_origin is None or bool(self.validate_origin(parsed_origin))
