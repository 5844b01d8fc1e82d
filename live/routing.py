"""WebSocket routes of the live app (included by config/routing.py)."""

from typing import Any

from django.urls import path

from live import consumers

websocket_urlpatterns: list[Any] = [
    path("ws/v1/rides/<uuid:ride_id>", consumers.RideConsumer.as_asgi()),
    path("ws/v1/fleet", consumers.FleetConsumer.as_asgi()),
    path("ws/v1/me", consumers.MeConsumer.as_asgi()),
    path("ws/v1/ops/tasks", consumers.TasksConsumer.as_asgi()),
]
