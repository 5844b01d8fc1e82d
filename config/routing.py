"""WebSocket URL patterns, collected from the apps that serve sockets."""

from typing import Any

from live.routing import websocket_urlpatterns as live_patterns

websocket_urlpatterns: list[Any] = [*live_patterns]
