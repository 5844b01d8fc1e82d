from __future__ import annotations

import factory

from fleet.models import City, VehicleType


class CityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = City
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"city-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    timezone = "Europe/Berlin"
    currency = "EUR"
    default_language = "de"


class VehicleTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleType
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"scooter-{n}")
    name = "E-scooter"
    form_factor = "scooter_standing"
    propulsion_type = "electric"
    max_range_meters = 40_000
    max_permitted_speed_kph = 20
