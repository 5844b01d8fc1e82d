"""One way to name a city in the API: its id (UUID) or its slug, wherever a city is taken.

- In a path: the ``city`` converter (``cities/<city:city>/zones``) hands the view the text; the view resolves it
  with ``selectors.city_get(ref=...)``.
- In a query or a body: ``CityRefField`` resolves it to the ``City`` while validating.

An unknown one is 404 ``city_not_found`` in both (``fleet.errors.CityNotFound``); views that take a city list that
error in ``domain_errors``. ``GET /cities`` returns both forms; apps may keep either.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fleet import selectors
from fleet.models import City

CITY_REF_PATTERN = selectors.cities.CITY_REF_PATTERN
CITY_REF_HELP = "The city's id (UUID) or its slug, e.g. berlin"


class CityRefConverter:
    """URL converter ``<city:...>``: the text of a city id or slug (resolved by the view, so 404 has our code)."""

    regex = CITY_REF_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: Any) -> str:
        return str(value.slug if isinstance(value, City) else value)


@extend_schema_field({"type": "string", "description": CITY_REF_HELP, "example": "berlin"})
class CityRefField(serializers.Field):
    """A city named by its id or slug; validated data is the ``City`` (404 ``city_not_found`` when unknown)."""

    default_error_messages = {"invalid": "Expected a city id or slug."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", CITY_REF_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> City:
        if not isinstance(data, str) or not data or len(data) > 64:
            self.fail("invalid")
        return selectors.city_get(ref=data.strip())

    def to_representation(self, value: City) -> str:
        return value.slug
