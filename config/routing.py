"""WebSocket URL patterns, collected from the apps that serve sockets."""

from typing import Any

websocket_urlpatterns: list[Any] = []
