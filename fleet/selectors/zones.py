"""Zone reads: the compiled geofence of a city (cached per process), and zones as GeoJSON for maps."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from django.core.cache import cache
from django.utils import timezone

from fleet import errors, geofence
from fleet.models import City, Zone, ZoneKind

# A city's zone version in Redis; ``fleet.services.zones_changed`` bumps it, every process recompiles on a change.
VERSION_PREFIX = "fleet:zones:version:"
CHECK_INTERVAL_S = 1.0
# Outside a city's operating area rides may pass through but not start or end (GBFS global_rules).
OUTSIDE_AREA_RULE = geofence.Rule(ride_start_allowed=False, ride_end_allowed=False, ride_through_allowed=True)


@dataclass
class _Entry:
    version: str
    compiled: geofence.CompiledZones
    zones: dict[str, Zone]
    checked_at: float


_cache: dict[uuid.UUID, _Entry] = {}
_lock = threading.Lock()


def forget_city(city_id: uuid.UUID) -> None:
    _cache.pop(city_id, None)


def clear_geofence_cache() -> None:
    _cache.clear()


def _active_zones(city_id: uuid.UUID) -> list[Zone]:
    return list(Zone.objects.filter(city_id=city_id, active=True).select_related("city").prefetch_related("vehicle_types")
                .order_by("priority", "created_at", "id"))


def zone_spec(zone: Zone, vehicle_type_codes: Collection[str] | None = None) -> geofence.ZoneSpec:
    """The zone as the engine sees it. ``vehicle_type_codes`` stands for ``zone.vehicle_types`` of a zone not saved
    yet (a form's data: the admin's GBFS preview)."""
    if vehicle_type_codes is None:
        vehicle_type_codes = [t.code for t in zone.vehicle_types.all()]
    type_codes = frozenset(vehicle_type_codes) or None
    rule = geofence.Rule(
        vehicle_type_ids=type_codes, ride_start_allowed=zone.ride_start_allowed,
        ride_end_allowed=zone.ride_end_allowed, ride_through_allowed=zone.ride_through_allowed,
        maximum_speed_kph=zone.maximum_speed_kph, station_parking=zone.station_parking,
    )
    # A cap zone only counts vehicles: without rules it never decides a verdict (but is still "entered").
    rules = () if zone.kind == ZoneKind.CAP else (rule,)
    return geofence.ZoneSpec(id=str(zone.id), name=zone.name, kind=zone.kind, geometry=zone.geometry,
                             rules=rules, start=zone.starts_at, end=zone.ends_at)


def _compile(city_id: uuid.UUID, version: str) -> _Entry:
    zones = _active_zones(city_id)
    has_area = any(z.kind == ZoneKind.OPERATING_AREA for z in zones)
    compiled = geofence.CompiledZones([zone_spec(z) for z in zones], global_rules=[OUTSIDE_AREA_RULE] if has_area else [])
    return _Entry(version, compiled, {str(z.id): z for z in zones}, time.monotonic())


def _entry(city_id: uuid.UUID) -> _Entry:
    entry = _cache.get(city_id)
    now = time.monotonic()
    if entry is not None and now - entry.checked_at < CHECK_INTERVAL_S:
        return entry
    version = str(cache.get(f"{VERSION_PREFIX}{city_id}") or "none")
    if entry is not None and entry.version == version:
        entry.checked_at = now
        return entry
    with _lock:  # one compilation per process and city at a time
        entry = _compile(city_id, version)
        _cache[city_id] = entry
    return entry


def geofence_for_city(city_id: uuid.UUID) -> geofence.CompiledZones:
    """The city's active zones compiled for the geofence engine (precedence = ``priority``, then age).

    Cached per process; the cache checks the city's zone version in Redis at most once a second and
    recompiles when a zone was saved or deleted since (``fleet.services.zones.zones_changed``).
    """
    return _entry(city_id).compiled


def zones_at_point(*, lat: float, lon: float, at: datetime | None = None) -> list[Zone]:
    """Active zones of every city that contain the point, in precedence order."""
    at = at or timezone.now()
    found: list[Zone] = []
    for city_id in City.objects.values_list("id", flat=True):
        entry = _entry(city_id)
        found += [entry.zones[spec.id] for spec in entry.compiled.zones_containing(lon, lat, at)]
    return found


def city_zones(*, city_id: uuid.UUID) -> list[Zone]:
    if not City.objects.filter(id=city_id).exists():
        raise errors.CityNotFound()
    return _active_zones(city_id)


def zone_feature(zone: Zone, vehicle_type_codes: Collection[str] | None = None) -> dict[str, Any]:
    """A GBFS 3.0 ``geofencing_zones`` Feature, with our id, kind and priority added to its properties."""
    spec = zone_spec(zone, vehicle_type_codes)
    properties: dict[str, Any] = {
        "id": str(zone.id), "name": [{"text": zone.name, "language": zone.city.default_language}],
        "kind": zone.kind, "priority": zone.priority, "rules": [rule.to_gbfs() for rule in spec.rules],
    }
    if zone.starts_at:  # in UTC, as read from the database (an unsaved form's value is in the admin's zone)
        properties["start"] = zone.starts_at.astimezone(UTC).isoformat()
    if zone.ends_at:
        properties["end"] = zone.ends_at.astimezone(UTC).isoformat()
    return {"type": "Feature", "geometry": zone.geometry, "properties": properties}


def feature_collection(zones: list[Zone]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [zone_feature(z) for z in zones]}


def gbfs_geofencing_zones(*, city_id: uuid.UUID, ttl: int = 60) -> dict[str, Any]:
    """The city's GBFS 3.0 ``geofencing_zones.json`` (strict GBFS: no extra feature properties). Feature order is
    precedence; ``global_rules`` apply outside every zone. For whoever serves the GBFS feeds."""
    zones = [z for z in city_zones(city_id=city_id) if z.kind != ZoneKind.CAP]  # ops-only, not for riders' apps
    has_area = any(z.kind == ZoneKind.OPERATING_AREA for z in zones)
    features = [zone_gbfs_feature(zone) for zone in zones]
    updated = max((z.updated_at for z in zones), default=timezone.now())
    return {
        "last_updated": updated.isoformat(timespec="seconds"), "ttl": ttl, "version": "3.0",
        "data": {"geofencing_zones": {"type": "FeatureCollection", "features": features},
                 "global_rules": [OUTSIDE_AREA_RULE.to_gbfs()] if has_area else []},
    }


def zone_gbfs_feature(zone: Zone, vehicle_type_codes: Collection[str] | None = None) -> dict[str, Any]:
    """The zone's strict GBFS 3.0 Feature (name, start, end, rules only), as ``gbfs_geofencing_zones`` serves it."""
    feature = zone_feature(zone, vehicle_type_codes)
    feature["properties"] = {k: v for k, v in feature["properties"].items() if k in ("name", "start", "end", "rules")}
    return feature


def city_global_rules(*, city_id: uuid.UUID) -> list[dict[str, Any]]:
    """The GBFS 3.0 ``global_rules`` of the city: outside its operating area, if it has one, no ride starts or ends."""
    has_area = Zone.objects.filter(city_id=city_id, active=True, kind=ZoneKind.OPERATING_AREA).exists()
    return [OUTSIDE_AREA_RULE.to_gbfs()] if has_area else []


def zone_outside_operating_area(*, city_id: uuid.UUID, kind: str, geometry: dict[str, Any]) -> tuple[float, float] | None:
    """A point of a (valid) zone geometry that lies outside every active operating area of the city, when the zone
    does not meet any of them at all (a likely mistake: the wrong city, or [lat, lon] swapped); ``None`` when it
    meets one, when the zone is an operating area itself, or when the city has none. Only a warning: a zone outside
    the area is allowed."""
    if kind == ZoneKind.OPERATING_AREA:
        return None
    areas = [shapely.geometry.shape(g) for g in Zone.objects.filter(
        city_id=city_id, active=True, kind=ZoneKind.OPERATING_AREA).values_list("geometry", flat=True)]
    shape = shapely.geometry.shape(geometry)
    if not areas or any(area.intersects(shape) for area in areas):
        return None
    point = shape.representative_point()
    return point.x, point.y

