"""WSGI entry point: the REST API and admin are served here (granian/gunicorn), see README "Topology"."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from core.checks import refuse_unsafe_start  # noqa: E402  (needs apps loaded)

refuse_unsafe_start()  # granian runs no system checks: no fake service with DEBUG off (docs/security.md)

from core.gc import freeze_startup_objects  # noqa: E402

freeze_startup_objects()
