from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet.selectors import nearby as nearby_selectors
from fleet.selectors import zones as zone_selectors
from tests.fleet.factories import CityFactory, VehicleTypeFactory


@pytest.fixture(autouse=True)
def _fresh_geofence_cache() -> Iterator[None]:
    zone_selectors.clear_geofence_cache()
    nearby_selectors._plan_cache.clear()
    yield
    zone_selectors.clear_geofence_cache()
    nearby_selectors._plan_cache.clear()


@pytest.fixture
def city(db: Any) -> Any:
    return CityFactory.create(slug="berlin", name="Berlin")


@pytest.fixture
def scooter(db: Any) -> Any:
    return VehicleTypeFactory.create(code="scooter")


@pytest.fixture
def staff(db: Any) -> Any:
    from tests.accounts.factories import UserFactory

    return UserFactory(is_staff=True, is_superuser=True)
