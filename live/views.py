"""``POST /api/v1/ws-ticket``: a short-lived, single-use ticket for a WebSocket handshake (docs/live.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import idempotency
from core.schema import error_responses
from live import serializers, services


class WsTicketCreateView(APIView):
    @extend_schema(request=None, responses={201: serializers.WsTicketOut,
                                            **error_responses(**{"401": "not_authenticated, token_not_valid"})},
                   tags=["live"], summary="Get a single-use WebSocket ticket (for clients that cannot send headers)")
    def post(self, request: Request) -> Response:
        expires_at = float(request.auth["exp"]) if request.auth is not None else 0.0  # type: ignore[index]
        ticket = services.ws_ticket_issue(user=request.user, token_expires_at=expires_at)
        body = {"ticket": ticket, "expires_in": settings.LIVE_TICKET_TTL_S}
        return idempotency.no_store(Response(serializers.WsTicketOut(body).data, status=status.HTTP_201_CREATED))
