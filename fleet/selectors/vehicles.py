"""Vehicle reads: one vehicle, a city's vehicles, the silent ones."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet

from fleet import errors
from fleet.models import Vehicle, VehicleType
from fleet.states import Status


def vehicle_get(*, vehicle_id: uuid.UUID) -> Vehicle:
    try:
        return Vehicle.objects.select_related("vehicle_type", "city").get(id=vehicle_id)
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


def vehicle_get_by_code(*, code: str) -> Vehicle:
    try:
        return Vehicle.objects.select_related("vehicle_type", "city").get(code=code.strip().upper())
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


def vehicle_is_moving(vehicle: Vehicle) -> bool:
    """Reported moving: the last reported speed is above ``FLEET_MOVING_SPEED_KPH``. The age of the report does
    not matter: when in doubt, do not immobilise (a vehicle that really stopped reports a low speed)."""
    return vehicle.speed_kph is not None and vehicle.speed_kph > settings.FLEET_MOVING_SPEED_KPH


def vehicles_in_city(*, city_id: uuid.UUID, bbox: tuple[float, float, float, float] | None = None) -> QuerySet[Vehicle]:
    """The city's vehicles in service (not retired), by code; inside ``bbox`` (min lon, min lat, max lon, max lat)
    when given."""
    vehicles = Vehicle.objects.filter(city_id=city_id).exclude(status=Status.RETIRED)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        vehicles = vehicles.filter(lon__gte=min_lon, lon__lte=max_lon, lat__gte=min_lat, lat__lte=max_lat)
    return vehicles.order_by("code")


def vehicles_available(*, city_id: uuid.UUID, min_battery_pct: int) -> QuerySet[Vehicle]:
    """The city's available vehicles charged to at least ``min_battery_pct``, by code (the demo rides these)."""
    return Vehicle.objects.filter(city_id=city_id, status=Status.AVAILABLE, battery_pct__gte=min_battery_pct) \
        .order_by("code")


def _silent(before: datetime, before_by_city: Mapping[uuid.UUID, datetime]) -> Q:
    """Last seen before ``before``, or before its city's own time for the cities of ``before_by_city``."""
    if not before_by_city:
        return Q(last_seen_at__lt=before)
    condition = Q(last_seen_at__lt=before) & ~Q(city_id__in=list(before_by_city))
    for city_id, city_before in before_by_city.items():
        condition |= Q(city_id=city_id, last_seen_at__lt=city_before)
    return condition


def vehicles_silent(*, before: datetime, before_by_city: Mapping[uuid.UUID, datetime], statuses: Iterable[str],
                    limit: int) -> list[uuid.UUID]:
    """Ids of vehicles in ``statuses`` that reported once and not since ``before`` (per city, see ``_silent``),
    longest silent first: the liveness sweep's candidates."""
    return list(
        Vehicle.objects.filter(_silent(before, before_by_city), status__in=list(statuses), last_seen_at__isnull=False)
        .order_by("last_seen_at")
        .values_list("id", flat=True)[:limit]
    )


def vehicle_is_silent(*, vehicle_id: uuid.UUID, before: datetime, before_by_city: Mapping[uuid.UUID, datetime],
                      statuses: Iterable[str]) -> bool:
    """The vehicle still matches ``vehicles_silent``'s condition (re-checked under its row lock)."""
    return Vehicle.objects.filter(_silent(before, before_by_city), id=vehicle_id, status__in=list(statuses)).exists()


def vehicle_normal_speed_limits(*, vehicle_type_codes: Iterable[str]) -> dict[str, int]:
    """The speed limit each vehicle type runs at outside slow zones (its ``max_permitted_speed_kph``, else
    ``FLEET_DEFAULT_SPEED_LIMIT_KPH``): what telemetry restores when a vehicle leaves a slow zone."""
    codes = set(vehicle_type_codes)
    default = int(settings.FLEET_DEFAULT_SPEED_LIMIT_KPH)
    known = dict(VehicleType.objects.filter(code__in=codes).values_list("code", "max_permitted_speed_kph"))
    return {code: min(100, known.get(code) or default) for code in codes}


def vehicle_status_counts(*, city_id: uuid.UUID) -> dict[str, int]:
    """``{status: vehicles}`` of the city now (index ``vehicle_city_status``); statuses without a vehicle left out."""
    rows = Vehicle.objects.filter(city_id=city_id).values("status").annotate(n=Count("id")).order_by()
    return {row["status"]: row["n"] for row in rows}


def vehicles_extent(*, city_id: uuid.UUID) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of the city's vehicles in service with a position; None without any."""
    found = Vehicle.objects.filter(city_id=city_id, lat__isnull=False).exclude(status=Status.RETIRED).aggregate(
        min_lon=Min("lon"), min_lat=Min("lat"), max_lon=Max("lon"), max_lat=Max("lat"))
    if found["min_lon"] is None:
        return None
    return found["min_lon"], found["min_lat"], found["max_lon"], found["max_lat"]


def vehicle_types_all() -> list[VehicleType]:
    return list(VehicleType.objects.order_by("code"))
