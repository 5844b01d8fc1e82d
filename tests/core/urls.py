"""Test-only views that exercise the shared API conventions (mounted with ``pytest.mark.urls``)."""

from __future__ import annotations

import threading
from typing import Any

from django.urls import include, path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.urls import urlpatterns as real_urlpatterns
from core.errors import Conflict

calls: list[dict[str, Any]] = []
calls_lock = threading.Lock()
slow_entered = threading.Event()
slow_release = threading.Event()


class EchoIn(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    note = serializers.CharField(required=False)


class EchoView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data = EchoIn(data=request.data)
        data.is_valid(raise_exception=True)
        with calls_lock:
            calls.append({"user": str(request.user.pk), **data.validated_data})
            number = len(calls)
        return Response({"call": number, "amount": str(data.validated_data["amount"])}, status=201)


class SlowView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        slow_entered.set()
        slow_release.wait(timeout=10)
        with calls_lock:
            calls.append({"slow": True})
        return Response({"done": True}, status=201)


class BoomView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        with calls_lock:
            calls.append({"boom": True})
        raise RuntimeError("boom")


class ConflictView(APIView):
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        raise Conflict("Vehicle is busy.", state="on_trip")


class TightThrottle(AnonRateThrottle):
    rate = "2/min"


class ThrottledView(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [TightThrottle]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class PrivateView(APIView):
    def get(self, request: Request) -> Response:
        return Response({"user": str(request.user.pk)})


test_api = [
    path("echo", EchoView.as_view()),
    path("slow", SlowView.as_view()),
    path("boom", BoomView.as_view()),
    path("conflict", ConflictView.as_view()),
    path("throttled", ThrottledView.as_view()),
    path("private", PrivateView.as_view()),
]

urlpatterns = [path("api/v1/test/", include(test_api)), *real_urlpatterns]

handler404 = "core.views.not_found"
handler500 = "core.views.server_error"
