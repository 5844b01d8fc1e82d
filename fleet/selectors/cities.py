"""Cities and vehicle types, as other apps look them up (demo data, the liveness sweep, the sockets' gates)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db.models import QuerySet

from fleet.models import City, VehicleType


def cities_all() -> list[City]:
    """Every city, by name (the admin dashboard's city picker)."""
    return list(City.objects.order_by("name"))


def city_get_by_slug(*, slug: str) -> City | None:
    return City.objects.filter(slug=slug).first()


def city_exists(*, city_id: uuid.UUID) -> bool:
    return City.objects.filter(id=city_id).exists()


def city_ids_by_slug(*, slugs: Iterable[str]) -> dict[str, uuid.UUID]:
    """{slug: id} of the cities that exist among ``slugs``."""
    return dict(City.objects.filter(slug__in=list(slugs)).values_list("slug", "id"))


def vehicle_types_by_code(*, codes: Iterable[str]) -> QuerySet[VehicleType]:
    return VehicleType.objects.filter(code__in=list(codes))


def only_city_timezone() -> str | None:
    """The IANA time zone all cities share (usually: the only city), else ``None``."""
    zones = list(City.objects.order_by().values_list("timezone", flat=True).distinct()[:2])
    return zones[0] if len(zones) == 1 else None
