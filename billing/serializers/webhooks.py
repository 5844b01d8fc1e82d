"""What a payment provider's webhook gets back."""

from __future__ import annotations

from rest_framework import serializers


class WebhookAckOut(serializers.Serializer):
    received = serializers.BooleanField()
    event_id = serializers.CharField()
    outcome = serializers.CharField()
