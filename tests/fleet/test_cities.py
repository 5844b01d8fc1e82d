"""GET /cities: the public city catalogue; one identifier (id or slug) wherever the API takes a city."""

from __future__ import annotations

from typing import Any

import pytest

from feeds.models import GbfsSystem
from fleet import grid
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory, square

pytestmark = pytest.mark.django_db


def test_cities_list_what_an_app_needs_publicly_in_two_queries(api: Any, django_assert_num_queries: Any) -> None:
    berlin = CityFactory.create(slug="berlin", name="Berlin")
    ZoneFactory.create(city=berlin, geometry=square(13.1, 52.3, 0.5))  # the operating area
    ZoneFactory.create(city=berlin, kind="no_parking", geometry=square(12.0, 51.0, 0.1))  # ignored: an area exists
    zurich = CityFactory.create(slug="zurich", name="Zürich", currency="CHF", timezone="Europe/Zurich")
    ZoneFactory.create(city=zurich, kind="no_ride", geometry=square(8.5, 47.3, 0.1))  # no area: its zones' box
    ZoneFactory.create(city=zurich, kind="cap", vehicle_cap=10, geometry=square(0.0, 0.0, 1.0))  # ops only: never in the box
    CityFactory.create(slug="aachen", name="Aachen")
    for system_id, published in (("freewheel_berlin", True), ("berlin_beta", False)):
        GbfsSystem.objects.create(system_id=system_id, city=berlin, name=system_id, published=published,
                                  feed_contact_email="gbfs@example.com")
    with django_assert_num_queries(3):  # cities, their zones, their GBFS systems
        r = api.anonymous().get("/api/v1/cities")
    assert r.status_code == 200
    cities = r.json()["results"]
    assert [c["slug"] for c in cities] == ["aachen", "berlin", "zurich"]
    aachen, listed_berlin, listed_zurich = cities
    assert listed_berlin == {
        "id": str(berlin.id), "slug": "berlin", "name": "Berlin", "currency": "EUR", "timezone": "Europe/Berlin",
        "bounding_box": [13.1, 52.3, 13.6, 52.8],
        "links": {"zones": "/api/v1/cities/berlin/zones", "tariffs": "/api/v1/tariffs?city=berlin",
                  "passes": "/api/v1/passes/catalogue?city=berlin", "gbfs": ["/gbfs/v3/freewheel_berlin/gbfs.json"]},
    }
    assert listed_zurich["bounding_box"] == pytest.approx([8.5, 47.3, 8.6, 47.4])
    assert (listed_zurich["currency"], listed_zurich["timezone"]) == ("CHF", "Europe/Zurich")
    assert (aachen["bounding_box"], aachen["links"]["gbfs"]) == (None, [])
    links = listed_berlin["links"]
    for link in (links["zones"], links["tariffs"], links["passes"], *links["gbfs"]):  # every link leads somewhere
        assert api.anonymous().get(link).status_code == 200, link


def test_one_city_by_id_or_slug_and_one_error_for_an_unknown_one(api: Any) -> None:
    city = CityFactory.create(slug="berlin")
    by_slug = api.anonymous().get("/api/v1/cities/berlin")
    by_id = api.anonymous().get(f"/api/v1/cities/{city.id}")
    assert by_slug.status_code == by_id.status_code == 200
    assert by_slug.json() == by_id.json() and by_slug.json()["id"] == str(city.id)
    for unknown in ("atlantis", "00000000-0000-0000-0000-000000000000", "a" * 64):
        r = api.anonymous().get(f"/api/v1/cities/{unknown}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "city_not_found"), unknown


def test_city_answers_are_cacheable_and_revalidate_with_304(api: Any) -> None:
    city = CityFactory.create(slug="berlin")
    for url in ("/api/v1/cities", "/api/v1/cities/berlin"):
        first = api.anonymous().get(url)
        assert first["Cache-Control"] == "public, max-age=60" and first["ETag"].startswith('W/"')
        again = api.anonymous().get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert (again.status_code, again.content, again["ETag"]) == (304, b"", first["ETag"])
    before = api.anonymous().get("/api/v1/cities")["ETag"]
    city.name = "Berlin (Mitte)"
    city.save()
    changed = api.anonymous().get("/api/v1/cities", HTTP_IF_NONE_MATCH=before)
    assert changed.status_code == 200 and changed["ETag"] != before


def test_every_city_parameter_takes_the_id_or_the_slug(api: Any, rider: Any, staff: Any) -> None:
    from tests.billing.test_tariffs import _publish

    city = CityFactory.create(slug="berlin")
    ZoneFactory.create(city=city)
    _publish(city, VehicleTypeFactory.create())
    for ref in ("berlin", str(city.id)):
        zones = api.anonymous().get(f"/api/v1/cities/{ref}/zones")
        assert zones.status_code == 200 and len(zones.json()["features"]) == 1, ref
        tariffs = api.anonymous().get("/api/v1/tariffs", {"city": ref})
        assert tariffs.status_code == 200 and len(tariffs.json()) == 1, ref
        assert api.anonymous().get("/api/v1/tariffs/gbfs", {"city": ref}).status_code == 200
        assert api.anonymous().get("/api/v1/passes/catalogue", {"city": ref}).status_code == 200
    for url, query in (("/api/v1/tariffs", {}), ("/api/v1/tariffs/gbfs", {}), ("/api/v1/passes/catalogue", {}),
                       ("/api/v1/tariffs/quote", {"vehicle_type": "x"})):
        for unknown in ("atlantis", "\u00f2\u00ee\x00R"):  # a NUL byte cannot reach PostgreSQL (the fuzzer's find)
            r = api.anonymous().get(url, {"city": unknown, **query})
            assert (r.status_code, r.json()["error"]["code"]) == (404, "city_not_found"), (url, unknown)
    r = api.as_(rider).post("/api/v1/passes", {"product": "day", "city": "atlantis"}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "city_not_found")
    for url in ("/api/v1/ops/alerts", "/api/v1/ops/tasks"):
        assert api.as_(staff).get(url, {"city": "berlin"}).status_code == 200
        assert api.as_(staff).get(url, {"city": str(city.id)}).status_code == 200
        assert api.as_(staff).get(url, {"city": "atlantis"}).json()["error"]["code"] == "city_not_found"


def test_nearby_results_name_their_city(api: Any, rider: Any) -> None:
    city = CityFactory.create(slug="berlin")
    VehicleFactory.create(city=city, lat=52.52, lon=13.405, cell=grid.cell_of(52.52, 13.405))
    r = api.as_(rider).get("/api/v1/vehicles/nearby", {"lat": 52.52, "lon": 13.405})
    assert r.status_code == 200
    assert r.json()["results"][0]["city"] == {"id": str(city.id), "slug": "berlin"}
    # ... which is what /cities/<id or slug> takes
    assert api.anonymous().get(f"/api/v1/cities/{r.json()['results'][0]['city']['id']}/zones").status_code == 200
