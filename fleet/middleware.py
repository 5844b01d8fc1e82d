"""Times in the admin in a zone that makes sense to the staff member reading them (docs/admin.md "Local time").

The admin renders datetimes in the active time zone (``USE_TZ``); this middleware activates, for admin pages only:
the staff member's own ``time_zone``, else ``OPS_TIME_ZONE``, else the only city's zone, else UTC. The API is left
alone: it always speaks UTC with an offset.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from fleet import selectors


def admin_time_zone(request: HttpRequest) -> str | None:
    own = getattr(request.user, "time_zone", "") if request.user.is_authenticated else ""
    return own or settings.OPS_TIME_ZONE or selectors.only_city_timezone()


class AdminTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._prefix is None:
            self._prefix = reverse("admin:index")
        name = admin_time_zone(request) if request.path.startswith(self._prefix) else None
        if not name:
            return self.get_response(request)
        try:
            zone = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return self.get_response(request)
        with timezone.override(zone):  # the admin's TemplateResponses render inside get_response
            return self.get_response(request)
