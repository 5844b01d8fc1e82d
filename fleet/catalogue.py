"""The public city catalogue (``GET /cities``): each city with its bounding box and the links an app follows.

Responses are cache-friendly: ``Cache-Control: public, max-age=CITY_MAX_AGE_S`` and a weak ``ETag`` of the body, so
an app revalidates with ``If-None-Match`` and gets 304 while nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from fleet import selectors
from fleet.models import City

# Cities change rarely (an admin edit); a minute keeps every app's view fresh enough and spares the server.
CITY_MAX_AGE_S = 60

# city ids -> {city id: system ids of its published GBFS systems}. The feeds app (above fleet) registers one in
# its AppConfig.ready; without it the cities list no GBFS feed.
GbfsSystemsResolver = Callable[[list[uuid.UUID]], dict[uuid.UUID, list[str]]]
_gbfs_systems: GbfsSystemsResolver | None = None


def register_gbfs_systems_resolver(resolver: GbfsSystemsResolver | None) -> None:
    global _gbfs_systems
    _gbfs_systems = resolver


def _links(city: City, gbfs_systems: list[str]) -> dict[str, Any]:
    # Route names, not imports: tariffs and passes live in billing and the GBFS feeds in feeds, both above fleet.
    query = urlencode({"city": city.slug})
    return {
        "zones": reverse("fleet-city-zones", kwargs={"city": city.slug}),
        "tariffs": f"{reverse('billing-tariffs')}?{query}",
        "passes": f"{reverse('billing-pass-catalogue')}?{query}",
        "gbfs": [reverse("gbfs-file", kwargs={"prefix": "v3", "system_id": system_id, "name": "gbfs"})
                 for system_id in gbfs_systems],
    }


def _public(cities: Iterable[City]) -> list[dict[str, Any]]:
    cities = list(cities)
    ids = [c.id for c in cities]
    boxes = selectors.city_bounding_boxes(city_ids=ids)
    systems = _gbfs_systems(ids) if _gbfs_systems is not None and ids else {}
    return [
        {"id": c.id, "slug": c.slug, "name": c.name, "currency": c.currency, "timezone": c.timezone,
         "bounding_box": list(boxes[c.id]) if c.id in boxes else None, "links": _links(c, systems.get(c.id, []))}
        for c in cities
    ]


def cities_public() -> list[dict[str, Any]]:
    """Every city, by name: three queries (cities, their zones' geometry, their GBFS systems)."""
    return _public(selectors.cities_all())


def city_public(*, ref: str) -> dict[str, Any]:
    """One city by id or slug; ``city_not_found`` otherwise."""
    return _public([selectors.city_get(ref=ref)])[0]


def cacheable(request: Request, body: Any) -> Response:
    """``body`` with a weak ETag and Cache-Control; 304 (no body) when ``If-None-Match`` names that ETag."""
    digest = hashlib.blake2b(json.dumps(body, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()
    etag = f'W/"{digest}"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={CITY_MAX_AGE_S}", "Vary": "Accept-Encoding"}
    sent = {tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")}
    if "*" in sent or etag.removeprefix("W/") in sent:
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(body, headers=headers)
