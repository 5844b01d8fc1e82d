"""Payment provider webhooks: signature-verified, idempotent by event id."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import errors
from billing.serializers import webhooks as webhook_serializers
from billing.services import webhooks


class WebhookReceiveView(APIView):
    domain_errors = (errors.WebhookSignatureInvalid, errors.ProviderUnknown)
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(request=None, responses=webhook_serializers.WebhookAckOut, tags=["billing"],
                   summary="Payment provider webhook (signature-verified; idempotent by event id)")
    def post(self, request: Request, provider: str) -> Response:
        headers = {key: value for key, value in request.headers.items()}
        event = webhooks.webhook_receive(provider_name=provider, body=request.body, headers=headers)
        return Response({"received": True, "event_id": event.event_id, "outcome": event.outcome})
