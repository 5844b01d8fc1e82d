"""Which cities an MDS answer covers: those the agency regulates, or the one ``?city=<slug>`` picks among them.

One provider serves every city (one ``provider_id``, ``MDS_PROVIDER_ID``). An agency regulating one city sees it
without asking; one regulating several (a regional authority) sees all of them together, or one with ``?city=``.
A city it does not regulate is 404 ``city_not_found``, the same answer as for a city that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rest_framework.request import Request

from feeds.mds import errors, selectors
from feeds.mds.auth import AgencyCaller


@dataclass(frozen=True)
class Scope:
    cities: tuple[selectors.ScopeCity, ...]

    @property
    def city_ids(self) -> list[uuid.UUID]:
        return [city.id for city in self.cities]

    @property
    def city_slugs(self) -> list[str]:
        return [city.slug for city in self.cities]


def resolve(*, request: Request, caller: AgencyCaller) -> Scope:
    cities = selectors.agency_cities(agency=caller.agency)
    if not cities:
        raise errors.NoCityInScope()
    wanted = request.query_params.get("city")
    if wanted is None:
        return Scope(cities=tuple(cities))
    # A city's slug or its id, as everywhere in the API (fleet/cityref.py).
    picked = tuple(city for city in cities if wanted in (city.slug, str(city.id)))
    if not picked:
        raise errors.CityNotFound(error_details=["city"])
    return Scope(cities=picked)
