"""ASGI entry point: Daphne serves WebSockets (``/ws/``) here; HTTP also works, for development."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not settings.configured:
    # Every ASGI server (daphne, uvicorn) imports this module before the settings: they are read as an ASGI
    # process's, with pooled database connections (config/settings.py). `manage.py runserver` loads the settings
    # first; manage.py says so for it. A process that loaded them already (the tests) is left as it is.
    os.environ.setdefault("ASGI_SERVER", "1")
django_asgi_app = get_asgi_application()

from core.checks import refuse_unsafe_start  # noqa: E402  (needs apps loaded)

refuse_unsafe_start()  # daphne runs no system checks: no fake service with DEBUG off (docs/security.md)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs apps loaded)

from config.routing import websocket_urlpatterns  # noqa: E402
from live.auth import JWTAuthMiddleware, OriginCheck  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin checked for browsers, then the JWT / ticket resolved into scope["user"] (docs/live.md).
        "websocket": OriginCheck(JWTAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

from core.gc import freeze_startup_objects, relax_thresholds  # noqa: E402

freeze_startup_objects()
relax_thresholds()  # thousands of sockets per process: rarer, shorter collections (core/gc.py)
