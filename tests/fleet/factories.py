from __future__ import annotations

import uuid

import factory
from django.utils import timezone

from fleet import grid
from fleet.models import City, Vehicle, VehicleType, Zone, ZoneKind
from fleet.states import Status


class CityFactory(factory.django.DjangoModelFactory[City]):
    class Meta:
        model = City
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"city-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    timezone = "Europe/Berlin"
    currency = "EUR"
    default_language = "de"


class VehicleTypeFactory(factory.django.DjangoModelFactory[VehicleType]):
    class Meta:
        model = VehicleType
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"scooter-{n}")
    name = "E-scooter"
    form_factor = "scooter_standing"
    propulsion_type = "electric"
    max_range_meters = 40_000
    max_permitted_speed_kph = 20


class VehicleFactory(factory.django.DjangoModelFactory[Vehicle]):
    """An available vehicle in Berlin-Mitte with a fresh position. ``available=False`` puts it in the workshop."""

    class Meta:
        model = Vehicle

    class Params:
        available = True

    code = factory.Sequence(lambda n: f"FW{n:05d}")
    imei = factory.Sequence(lambda n: f"35{n:013d}")
    vehicle_type = factory.SubFactory(VehicleTypeFactory)
    city = factory.SubFactory(CityFactory)
    status = factory.LazyAttribute(lambda o: Status.AVAILABLE if o.available else Status.IN_WORKSHOP)
    battery_pct = 80
    range_meters = 30_000
    lat = 52.5200
    lon = 13.4050
    cell = factory.LazyAttribute(lambda o: grid.cell_of(o.lat, o.lon) if o.lat is not None else None)
    position_at = factory.LazyFunction(timezone.now)
    trip_id = factory.LazyAttribute(
        lambda o: uuid.uuid4() if o.status in (Status.RESERVED, Status.ON_TRIP, Status.ELSEWHERE) else None
    )


SQUARE = {"type": "MultiPolygon", "coordinates": [[[[13.0, 52.0], [14.0, 52.0], [14.0, 53.0], [13.0, 53.0], [13.0, 52.0]]]]}


class ZoneFactory(factory.django.DjangoModelFactory[Zone]):
    """An operating area covering Berlin (13-14 E, 52-53 N) unless told otherwise."""

    class Meta:
        model = Zone

    city = factory.SubFactory(CityFactory)
    name = factory.Sequence(lambda n: f"Zone {n}")
    kind = ZoneKind.OPERATING_AREA
    priority = 100
    geometry = factory.LazyFunction(lambda: dict(SQUARE))


def square(lon: float, lat: float, size: float) -> dict[str, object]:
    """A MultiPolygon square with its south-west corner at (lon, lat), counter-clockwise."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}
