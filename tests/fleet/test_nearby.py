"""GET /api/v1/vehicles/nearby: only rentable vehicles, nearest first, filters, clear 400s, one query."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import grid, selectors
from fleet.selectors import nearby as nearby_selectors
from fleet.states import Status
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory

URL = "/api/v1/vehicles/nearby"
LAT, LON = 52.5200, 13.4050


def at(north_m: float, east_m: float = 0.0, **kwargs: Any) -> Any:
    """A vehicle north_m/east_m metres from the search point."""
    lat = LAT + north_m / 111_195
    lon = LON + east_m / (111_195 * 0.6088)
    return VehicleFactory.create(lat=lat, lon=lon, cell=grid.cell_of(lat, lon), **kwargs)


@pytest.mark.django_db
def test_lists_rentable_vehicles_nearest_first(
    api: Any, rider: Any, city: Any, django_assert_num_queries: Any
) -> None:
    far, near, mid = at(400, city=city), at(50, city=city), at(0, 200, city=city)
    at(30, city=city, status=Status.RESERVED)
    at(30, city=city, status=Status.ON_TRIP)
    at(30, city=city, status=Status.MAINTENANCE)
    at(30, city=city, position_at=timezone.now() - timedelta(hours=1))  # stale position
    at(900, city=city)  # outside the radius
    api.as_(rider)
    # The JWT user, one query for the vehicles, one for the pricing plans of the city (billing's resolver)...
    with django_assert_num_queries(3):
        r = api.get(URL, {"lat": LAT, "lon": LON, "radius": 500})
    with django_assert_num_queries(2):  # ...which is then cached for PRICING_PLAN_CACHE_S
        api.get(URL, {"lat": LAT, "lon": LON, "radius": 500})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [v["code"] for v in results] == [near.code, mid.code, far.code]
    first = results[0]
    assert first["vehicle_type"] == near.vehicle_type.code and first["battery_pct"] == 80
    assert 45 < first["distance_m"] < 55 and first["pricing_plan_id"] is None  # no tariff in this city
    assert set(first["position"]) == {"lat", "lon", "reported_at"}


@pytest.mark.django_db
def test_filters_by_type_and_battery(api: Any, rider: Any) -> None:
    bike = VehicleTypeFactory.create(code="ebike", form_factor="bicycle", propulsion_type="electric_assist")
    low, full = at(10, battery_pct=20), at(20, battery_pct=90)
    cycle = at(30, vehicle_type=bike, battery_pct=95)
    r = api.as_(rider).get(URL, {"lat": LAT, "lon": LON, "min_battery": 50})
    assert [v["code"] for v in r.json()["results"]] == [full.code, cycle.code]
    r = api.get(URL, {"lat": LAT, "lon": LON, "type": "ebike"})
    assert [v["code"] for v in r.json()["results"]] == [cycle.code]
    assert low.code not in [v["code"] for v in api.get(URL, {"lat": LAT, "lon": LON, "min_battery": 21}).json()["results"]]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "code"), [
    ({"lat": 91, "lon": 13}, "invalid_coordinates"),
    ({"lat": 52, "lon": -181}, "invalid_coordinates"),
    ({"lat": 52, "lon": 13, "radius": 5000}, "radius_too_large"),
    ({"lat": 52, "lon": 13, "radius": 0}, "radius_too_large"),
    ({"lat": "north", "lon": 13}, "validation_error"),
    ({"lon": 13}, "validation_error"),
    ({"lat": 52, "lon": 13, "min_battery": 101}, "validation_error"),
])
def test_bad_queries_are_400_with_a_clear_code(api: Any, rider: Any, params: dict[str, Any], code: str) -> None:
    r = api.as_(rider).get(URL, params)
    assert (r.status_code, r.json()["error"]["code"]) == (400, code)


@pytest.mark.django_db
def test_needs_authentication(api: Any) -> None:
    r = api.get(URL, {"lat": LAT, "lon": LON})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "not_authenticated")


@pytest.mark.django_db
def test_pricing_plan_hook_fills_the_plan_id(api: Any, rider: Any) -> None:
    vehicle = at(10)
    plan = uuid.uuid4()
    calls: list[set[uuid.UUID]] = []

    def resolver(city_id: uuid.UUID, type_ids: Any) -> dict[uuid.UUID, Any]:
        calls.append(set(type_ids))
        return {t: plan for t in type_ids}

    previous = nearby_selectors.pricing_plan_resolver()
    selectors.register_pricing_plan_resolver(resolver)
    try:
        r = api.as_(rider).get(URL, {"lat": LAT, "lon": LON})
        again = api.get(URL, {"lat": LAT, "lon": LON})
        nearby_selectors._plan_cache.update(
            {key: (value, 0.0) for key, (value, _) in nearby_selectors._plan_cache.items()}  # expire them
        )
        api.get(URL, {"lat": LAT, "lon": LON})
    finally:
        selectors.register_pricing_plan_resolver(previous)
    assert r.json()["results"][0]["pricing_plan_id"] == str(plan) == again.json()["results"][0]["pricing_plan_id"]
    assert r.json()["results"][0]["code"] == vehicle.code
    assert calls == [{vehicle.vehicle_type_id}, {vehicle.vehicle_type_id}]  # cached in between, asked again after


@pytest.mark.django_db
def test_a_reading_moves_the_vehicle_into_the_search(api: Any, rider: Any) -> None:
    from fleet import services

    vehicle = at(5000)
    assert api.as_(rider).get(URL, {"lat": LAT, "lon": LON}).json()["results"] == []
    assert services.vehicle_record_reading(vehicle_id=vehicle.id, at=timezone.now(),
                                           location=services.Location(LAT, LON + 0.001))
    assert [v["code"] for v in api.get(URL, {"lat": LAT, "lon": LON}).json()["results"]] == [vehicle.code]
    # an older reading does not move it back
    assert not services.vehicle_record_reading(vehicle_id=vehicle.id, at=timezone.now() - timedelta(minutes=1),
                                               location=services.Location(0, 0))


def test_grid_cells_cover_the_circle_across_cell_borders() -> None:
    cells = set(grid.cells_covering(LAT, LON, 2000))
    for north in (-1990, 0, 1990):
        for east in (-1990, 0, 1990):
            lat, lon = LAT + north / 111_195, LON + east / (111_195 * 0.6088)
            assert grid.cell_of(lat, lon) in cells
    assert grid.cell_of(0.0, 179.999) in set(grid.cells_covering(0.0, -179.999, 500))  # antimeridian
