"""``{% map_assets %}``: the admin's map library (Leaflet, and Geoman for drawing with ``draw=True``), our
``core/map.js`` and the tile settings, all from our own static files (docs/admin.md "Maps")."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

register = template.Library()


@register.inclusion_tag("core/map_assets.html")
def map_assets(draw: bool = False) -> dict[str, Any]:
    return {"draw": draw, "map_config": {"tile_url": settings.MAP_TILE_URL,
                                         "attribution": settings.MAP_TILE_ATTRIBUTION}}
