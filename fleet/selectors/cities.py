"""Cities and vehicle types, as other apps look them up (demo data, the liveness sweep, the sockets' gates)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet

from fleet import errors
from fleet.models import City, VehicleType, Zone, ZoneKind

# A UUID is also made of letters, digits and hyphens: one pattern covers both forms of a city's name in the API.
CITY_REF_PATTERN = r"[A-Za-z0-9_-]{1,64}"


def cities_all() -> list[City]:
    """Every city, by name (the admin dashboard's city picker)."""
    return list(City.objects.order_by("name"))


def city_ref_query(ref: str | uuid.UUID) -> Q:
    """Match a city by its id or its slug: the one way the API names a city (see ``fleet.cityref``)."""
    if isinstance(ref, uuid.UUID):
        return Q(id=ref)
    try:
        return Q(id=uuid.UUID(ref)) | Q(slug=ref)
    except ValueError:
        return Q(slug=ref)


def city_get(*, ref: str | uuid.UUID) -> City:
    """The city whose id or slug is ``ref``; ``city_not_found`` (404) otherwise, also for text no id or slug can be
    (a NUL byte would not even reach PostgreSQL)."""
    if isinstance(ref, str) and not re.fullmatch(CITY_REF_PATTERN, ref):
        raise errors.CityNotFound(city=ref)
    city = City.objects.filter(city_ref_query(ref)).first()
    if city is None:
        raise errors.CityNotFound(city=str(ref))
    return city


BoundingBox = tuple[float, float, float, float]


def city_bounding_boxes(*, city_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, BoundingBox]:
    """``[west, south, east, north]`` (GeoJSON bbox order) of each city's active operating area, or, for a city
    without one, of its active zones; a city without zones has none. One query."""
    zones = (Zone.objects.filter(city_id__in=list(city_ids), active=True).exclude(kind=ZoneKind.CAP)
             .values_list("city_id", "kind", "geometry"))
    areas: dict[uuid.UUID, BoundingBox] = {}
    others: dict[uuid.UUID, BoundingBox] = {}
    for city_id, kind, geometry in zones:
        into = areas if kind == ZoneKind.OPERATING_AREA else others
        into[city_id] = _merged(into.get(city_id), _bbox_of(geometry))
    return others | areas  # a city's operating area wins over its other zones


def _bbox_of(geometry: dict[str, object]) -> BoundingBox:
    positions = [p for polygon in geometry.get("coordinates", []) for ring in polygon for p in ring]  # type: ignore[attr-defined]
    lons, lats = [float(p[0]) for p in positions], [float(p[1]) for p in positions]
    return min(lons), min(lats), max(lons), max(lats)


def _merged(a: BoundingBox | None, b: BoundingBox) -> BoundingBox:
    if a is None:
        return b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def city_get_by_slug(*, slug: str) -> City | None:
    return City.objects.filter(slug=slug).first()


def city_exists(*, city_id: uuid.UUID) -> bool:
    return City.objects.filter(id=city_id).exists()


def city_ids_by_slug(*, slugs: Iterable[str]) -> dict[str, uuid.UUID]:
    """{slug: id} of the cities that exist among ``slugs``."""
    return dict(City.objects.filter(slug__in=list(slugs)).values_list("slug", "id"))


def city_currencies() -> list[str]:
    """The currencies the cities charge in, sorted."""
    return sorted(set(City.objects.values_list("currency", flat=True)))


def vehicle_type_min_ages() -> dict[str, int]:
    """{code: minimum rider age} of the vehicle types that have one and have vehicles."""
    types = VehicleType.objects.filter(min_rider_age__gt=0, vehicles__isnull=False).distinct()
    return dict(types.order_by("code").values_list("code", "min_rider_age"))


def vehicle_types_by_code(*, codes: Iterable[str]) -> QuerySet[VehicleType]:
    return VehicleType.objects.filter(code__in=list(codes))


def only_city_timezone() -> str | None:
    """The IANA time zone all cities share (usually: the only city), else ``None``."""
    zones = list(City.objects.order_by().values_list("timezone", flat=True).distinct()[:2])
    return zones[0] if len(zones) == 1 else None
