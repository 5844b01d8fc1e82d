"""Nearby search: rentable vehicles around a point, nearest first.

One query: the partial index ``vehicle_available_cell`` gives the available vehicles in the grid cells that
cover the circle's bounding box, the bounding box trims them, PostgreSQL computes the exact haversine distance
on the few hundred rows left, filters by the radius, sorts and returns the nearest ``limit``.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import ExpressionWrapper, F, FloatField, Value
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt
from django.utils import timezone

from fleet import conf, errors, grid
from fleet.models import Vehicle
from fleet.states import Status

# (city_id, vehicle_type_ids) -> {vehicle_type_id: pricing plan id or None}. Billing registers one.
PricingPlanResolver = Callable[[uuid.UUID, Iterable[uuid.UUID]], dict[uuid.UUID, uuid.UUID | str | None]]
_pricing_plan_resolver: PricingPlanResolver | None = None


def register_pricing_plan_resolver(resolver: PricingPlanResolver | None) -> None:
    """Billing calls this (e.g. in its AppConfig.ready) so that nearby results carry a pricing plan id."""
    global _pricing_plan_resolver
    _pricing_plan_resolver = resolver


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
    pricing_plan_id: uuid.UUID | str | None = None


def check_point(lat: float, lon: float) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise errors.InvalidCoordinates()


def check_query(lat: float, lon: float, radius_m: float) -> None:
    check_point(lat, lon)
    limit = conf.get("FLEET_NEARBY_MAX_RADIUS_M")
    if not math.isfinite(radius_m) or radius_m <= 0 or radius_m > limit:
        raise errors.RadiusTooLarge(f"radius must be between 1 and {limit} metres.", max_radius_m=limit)


_FIELDS = ("id", "code", "vehicle_type_id", "vehicle_type__code", "vehicle_type__form_factor", "city_id",
           "lat", "lon", "position_at", "battery_pct", "range_meters", "distance")


def _haversine(lat: float, lon: float) -> ExpressionWrapper:
    """Exact great-circle distance in metres from (lat, lon), computed by PostgreSQL on the rows the index
    found, so that only the nearest ``limit`` rows are transferred and converted."""
    half_dlat = Radians(F("lat") - Value(lat)) / Value(2.0)
    half_dlon = Radians(F("lon") - Value(lon)) / Value(2.0)
    a = Power(Sin(half_dlat), 2) + Value(math.cos(math.radians(lat))) * Cos(Radians(F("lat"))) * Power(Sin(half_dlon), 2)
    return ExpressionWrapper(Value(2 * grid.EARTH_RADIUS_M) * ASin(Sqrt(a)), output_field=FloatField())


def _nearest(lat: float, lon: float, radius_m: float, vehicle_type: str | None, min_battery: int | None,
             now: datetime, limit: int) -> list[tuple[Any, ...]]:
    min_lat, max_lat, min_lon, max_lon = grid.bounding_box(lat, lon, radius_m)
    qs = Vehicle.objects.filter(
        status=Status.AVAILABLE, cell__in=grid.cells_covering(lat, lon, radius_m),
        lat__gte=min_lat, lat__lte=max_lat, lon__gte=min_lon, lon__lte=max_lon,
        position_at__gte=now - timedelta(seconds=conf.get("FLEET_POSITION_STALE_S")),
    )
    if vehicle_type:
        qs = qs.filter(vehicle_type__code=vehicle_type)
    if min_battery is not None:
        qs = qs.filter(battery_pct__gte=min_battery)
    qs = qs.annotate(distance=_haversine(lat, lon))
    return list(qs.filter(distance__lte=radius_m).order_by("distance", "id").values_list(*_FIELDS)[:limit])


def vehicles_nearby(
    *, lat: float, lon: float, radius_m: float | None = None, vehicle_type: str | None = None,
    min_battery: int | None = None, limit: int | None = None, now: datetime | None = None,
) -> list[NearbyVehicle]:
    """Rentable vehicles (available, fresh position) within ``radius_m`` of the point, nearest first."""
    radius_m = float(radius_m if radius_m is not None else conf.get("FLEET_NEARBY_DEFAULT_RADIUS_M"))
    check_query(lat, lon, radius_m)
    rows = _nearest(lat, lon, radius_m, vehicle_type, min_battery, now or timezone.now(),
                    limit or conf.get("FLEET_NEARBY_LIMIT"))
    found = [
        NearbyVehicle(vid, code, type_id, type_code, form_factor, city_id, vlat, vlon, position_at, battery, range_m,
                      round(distance, 1))
        for vid, code, type_id, type_code, form_factor, city_id, vlat, vlon, position_at, battery, range_m, distance
        in rows
    ]
    return _with_pricing_plans(found)


def _with_pricing_plans(found: list[NearbyVehicle]) -> list[NearbyVehicle]:
    if _pricing_plan_resolver is None or not found:
        return found
    plans: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID | str | None] = {}
    for city_id in {v.city_id for v in found}:
        type_ids = {v.vehicle_type_id for v in found if v.city_id == city_id}
        for type_id, plan in _pricing_plan_resolver(city_id, type_ids).items():
            plans[(city_id, type_id)] = plan
    return [dataclasses.replace(v, pricing_plan_id=plans.get((v.city_id, v.vehicle_type_id))) for v in found]
