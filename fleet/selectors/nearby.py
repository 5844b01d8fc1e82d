"""Nearby search: rentable vehicles around a point, nearest first.

One query: the partial index ``vehicle_available_cell`` (cell) gives the available vehicles in the grid cells
that cover the circle's bounding box (lat/lon are not in it, so telemetry's position updates stay HOT), the
bounding box trims them, and
PostgreSQL computes the exact haversine distance on the few hundred rows left, filters by the radius, sorts and
returns the nearest ``limit``.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from fleet import errors, grid
from fleet.states import Status

# (city_id, vehicle_type_ids) -> {vehicle_type_id: pricing plan id or None}. Billing registers one.
PricingPlanResolver = Callable[[uuid.UUID, Iterable[uuid.UUID]], dict[uuid.UUID, uuid.UUID | str | None]]
_pricing_plan_resolver: PricingPlanResolver | None = None


# (city_id, vehicle_type_id) -> (plan id, monotonic expiry). Plans change rarely and the resolver is a database
# query; caching its answers per process keeps it off the hot path (a new tariff shows within this many seconds).
PRICING_PLAN_CACHE_S = 10.0
_plan_cache: dict[tuple[uuid.UUID, uuid.UUID], tuple[uuid.UUID | str | None, float]] = {}


def pricing_plan_resolver() -> PricingPlanResolver | None:
    """The registered resolver (billing's ``pricing_plans_for`` once the apps are ready), ``None`` before."""
    return _pricing_plan_resolver


def register_pricing_plan_resolver(resolver: PricingPlanResolver | None) -> None:
    """Billing calls this (e.g. in its AppConfig.ready) so that nearby results carry a pricing plan id."""
    global _pricing_plan_resolver
    _pricing_plan_resolver = resolver
    _plan_cache.clear()


@dataclass(frozen=True, slots=True)
class NearbyVehicle:
    id: uuid.UUID
    code: str
    vehicle_type_id: uuid.UUID
    vehicle_type_code: str
    form_factor: str
    city_id: uuid.UUID
    lat: float
    lon: float
    position_at: datetime
    battery_pct: int | None
    range_meters: int | None
    distance_m: float
    city_slug: str = ""
    pricing_plan_id: uuid.UUID | str | None = None


def check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise errors.InvalidCoordinates()


def check_query(lat: float, lon: float, radius_m: float) -> None:
    check_point(lat, lon)
    limit = settings.FLEET_NEARBY_MAX_RADIUS_M
    if not math.isfinite(radius_m) or radius_m <= 0 or radius_m > limit:
        raise errors.RadiusTooLarge(f"radius must be between 1 and {limit} metres.", max_radius_m=limit)


# One static statement rather than the ORM: this runs every time a rider opens the map, and building the
# queryset (a cell list, a haversine expression) costs several times the CPU of sending this text (see
# bench/nearby.py). The planner uses the partial index vehicle_available_cell (cell).
_NEAREST_SQL = """
SELECT v.id, v.code, v.vehicle_type_id, t.code, t.form_factor, v.city_id, v.lat, v.lon, v.position_at,
       v.battery_pct, v.range_meters, d.distance, c.slug
FROM fleet_vehicle v
JOIN fleet_vehicletype t ON t.id = v.vehicle_type_id
JOIN fleet_city c ON c.id = v.city_id
CROSS JOIN LATERAL (
    SELECT 2 * %(earth_radius)s * asin(sqrt(power(sin(radians(v.lat - %(lat)s) / 2), 2)
        + cos(radians(%(lat)s)) * cos(radians(v.lat)) * power(sin(radians(v.lon - %(lon)s) / 2), 2))) AS distance
) d
WHERE v.status = %(status)s AND v.cell = ANY(%(cells)s)
  AND v.lat BETWEEN %(min_lat)s AND %(max_lat)s AND v.lon BETWEEN %(min_lon)s AND %(max_lon)s
  AND v.position_at >= %(fresh_after)s
  AND (%(vehicle_type)s::text IS NULL OR t.code = %(vehicle_type)s)
  AND (%(min_battery)s::integer IS NULL OR v.battery_pct >= %(min_battery)s)
  AND d.distance <= %(radius)s
ORDER BY d.distance, v.id
LIMIT %(limit)s
"""


def _nearest(lat: float, lon: float, radius_m: float, vehicle_type: str | None, min_battery: int | None,
             now: datetime, limit: int) -> list[tuple[Any, ...]]:
    """Candidates from the grid cells covering the circle's bounding box; PostgreSQL computes the exact
    haversine distance, filters by the radius, sorts and returns the nearest ``limit``."""
    min_lat, max_lat, min_lon, max_lon = grid.bounding_box(lat, lon, radius_m)
    params: dict[str, Any] = {
        "earth_radius": grid.EARTH_RADIUS_M, "lat": lat, "lon": lon, "status": Status.AVAILABLE.value,
        "cells": grid.cells_covering(lat, lon, radius_m), "min_lat": min_lat, "max_lat": max_lat,
        "min_lon": min_lon, "max_lon": max_lon, "radius": radius_m, "limit": limit,
        "fresh_after": now - timedelta(seconds=settings.FLEET_POSITION_STALE_S),
        "vehicle_type": vehicle_type or None, "min_battery": min_battery,
    }
    with connection.cursor() as cursor:
        cursor.execute(_NEAREST_SQL, params)
        return list(cursor.fetchall())


def vehicles_nearby(
    *, lat: float, lon: float, radius_m: float | None = None, vehicle_type: str | None = None,
    min_battery: int | None = None, limit: int | None = None, now: datetime | None = None,
) -> list[NearbyVehicle]:
    """Rentable vehicles (available, fresh position) within ``radius_m`` of the point, nearest first."""
    radius_m = float(radius_m if radius_m is not None else settings.FLEET_NEARBY_DEFAULT_RADIUS_M)
    check_query(lat, lon, radius_m)
    rows = _nearest(lat, lon, radius_m, vehicle_type, min_battery, now or timezone.now(),
                    limit or settings.FLEET_NEARBY_LIMIT)
    found = [
        NearbyVehicle(vid, code, type_id, type_code, form_factor, city_id, vlat, vlon, position_at, battery, range_m,
                      round(distance, 1), city_slug)
        for (vid, code, type_id, type_code, form_factor, city_id, vlat, vlon, position_at, battery, range_m, distance,
             city_slug) in rows
    ]
    return _with_pricing_plans(found)


def _plans_for(city_id: uuid.UUID, type_ids: set[uuid.UUID], now: float) -> None:
    """Refresh the cache entries of this city's types that are missing or expired (one resolver call)."""
    stale = {t for t in type_ids if _plan_cache.get((city_id, t), (None, 0.0))[1] <= now}
    if stale and _pricing_plan_resolver is not None:
        answer = _pricing_plan_resolver(city_id, stale)
        for type_id in stale:
            _plan_cache[(city_id, type_id)] = (answer.get(type_id), now + PRICING_PLAN_CACHE_S)


def _with_pricing_plans(found: list[NearbyVehicle]) -> list[NearbyVehicle]:
    if _pricing_plan_resolver is None or not found:
        return found
    now = time.monotonic()
    for city_id in {v.city_id for v in found}:
        _plans_for(city_id, {v.vehicle_type_id for v in found if v.city_id == city_id}, now)
    return [
        dataclasses.replace(v, pricing_plan_id=_plan_cache.get((v.city_id, v.vehicle_type_id), (None, 0.0))[0])
        for v in found
    ]
