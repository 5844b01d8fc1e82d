"""A rendered SVG map preview of zone geometry for the admin: no tiles, no CDN, no JavaScript.

The zone is drawn in colour over the city's other zones in grey, in an equirectangular projection scaled by
cos(latitude) so shapes keep their proportions at city scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString

WIDTH, HEIGHT, MARGIN = 480, 360, 0.08
COLOURS = {"operating_area": "#2b8a3e", "no_parking": "#e67700", "no_ride": "#c92a2a", "slow": "#1971c2",
           "parking_mandatory": "#6741d9", "parking_preferred": "#9c36b5", "cap": "#495057"}


def _rings(geometry: dict[str, Any]) -> Iterable[Sequence[Sequence[float]]]:
    polygons = geometry.get("coordinates") or []
    if geometry.get("type") == "Polygon":
        polygons = [polygons]
    for polygon in polygons:
        yield from polygon


def _projector(geometry: dict[str, Any]) -> Any:
    points = [p for ring in _rings(geometry) for p in ring]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    scale_x = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * scale_x, 1e-9)
    span_y = max(max(lats) - min(lats), 1e-9)
    size = max(span_x / WIDTH, span_y / HEIGHT) * (1 + 2 * MARGIN)
    cx, cy = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return WIDTH / 2 + (lon - cx) * scale_x / size, HEIGHT / 2 - (lat - cy) / size

    return project


def _path(geometry: dict[str, Any], project: Any) -> str:
    parts = []
    for ring in _rings(geometry):
        xy = [project(p[0], p[1]) for p in ring]
        parts.append("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in xy) + " Z")
    return " ".join(parts)


def zone_preview(geometry: dict[str, Any] | None, kind: str, context: Sequence[dict[str, Any]] = ()) -> SafeString:
    if not geometry or not list(_rings(geometry)):
        return format_html("<em>{}</em>", "No geometry yet.")
    project = _projector(geometry)
    grey = "".join(
        format_html('<path d="{}" fill="#adb5bd" fill-opacity="0.25" stroke="#868e96" stroke-width="0.5" '
                    'fill-rule="evenodd"/>', _path(other, project))
        for other in context
    )
    colour = COLOURS.get(kind, "#495057")
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'style="background:#f8f9fa;border:1px solid #dee2e6">{}<path d="{}" fill="{}" fill-opacity="0.45" '
        'stroke="{}" stroke-width="1.5" fill-rule="evenodd"/></svg>',
        WIDTH, HEIGHT, WIDTH, HEIGHT, SafeString(grey), _path(geometry, project), colour, colour,
    )
