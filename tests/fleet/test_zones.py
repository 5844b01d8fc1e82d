"""Zones: creation with validation, GeoJSON import (command), the per-city geofence cache, the zone endpoints."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fleet import geojson, selectors, services
from fleet.models import Zone
from fleet.selectors import zones as zone_selectors
from tests.fleet.factories import ZoneFactory, square


def feature(kind: str, geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {"kind": kind, **props}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@pytest.mark.django_db
def test_zone_create_applies_kind_defaults_and_normalises_geometry(city: Any) -> None:
    polygon = {"type": "Polygon", "coordinates": [[[13.0, 52.0], [13.0, 52.1], [13.1, 52.1], [13.1, 52.0], [13.0, 52.0]]]}
    zone = services.zone_create(city=city, name="Alex", kind="no_parking", geometry=polygon)
    assert zone.geometry["type"] == "MultiPolygon"
    assert (zone.ride_start_allowed, zone.ride_end_allowed, zone.ride_through_allowed) == (True, False, True)


@pytest.mark.django_db
@pytest.mark.parametrize(("geometry", "fragment"), [
    ({"type": "Polygon", "coordinates": [[[13, 52], [14, 52], [14, 53], [13, 52.5]]]}, "not closed"),
    ({"type": "Polygon", "coordinates": [[[13, 52], [14, 91], [14, 53], [13, 52]]]}, "lat"),
    ({"type": "Point", "coordinates": [13, 52]}, "Polygon or MultiPolygon"),
])
def test_invalid_geometry_is_refused_with_a_clear_message(city: Any, geometry: Any, fragment: str) -> None:
    with pytest.raises(geojson.GeometryInvalid) as exc:
        services.zone_create(city=city, name="Bad", kind="no_ride", geometry=geometry)
    assert fragment in exc.value.detail_message
    assert not Zone.objects.exists()


@pytest.mark.django_db
def test_slow_zone_needs_a_speed(city: Any) -> None:
    with pytest.raises(services.ZoneImportInvalid, match="maximum_speed_kph"):
        services.zone_create(city=city, name="Slow", kind="slow", geometry=square(13.3, 52.5, 0.01))


@pytest.mark.django_db
def test_import_command_loads_gbfs_style_features(city: Any, scooter: Any, tmp_path: Path) -> None:
    start = timezone.now().replace(microsecond=0)
    data = collection(
        feature("operating_area", square(13.0, 52.0, 1.0), name=[{"text": "Berlin", "language": "de"}]),
        feature("slow", square(13.3, 52.5, 0.05), name="Park", start=start.isoformat(),
                rules=[{"vehicle_type_ids": ["scooter"], "ride_start_allowed": True, "ride_end_allowed": True,
                        "ride_through_allowed": True, "maximum_speed_kph": 10}]),
    )
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(data))
    call_command("import_zones", "berlin", str(path))
    area, slow = Zone.objects.order_by("priority")
    assert (area.name, area.kind, area.priority) == ("Berlin", "operating_area", 0)
    assert (slow.maximum_speed_kph, slow.starts_at, list(slow.vehicle_types.all())) == (10, start, [scooter])


@pytest.mark.django_db
def test_import_is_all_or_nothing_and_names_the_bad_feature(city: Any, tmp_path: Path) -> None:
    bad = {"type": "Polygon", "coordinates": [[[13, 52], [14, 52], [14, 53]]]}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(collection(feature("no_ride", square(13.1, 52.1, 0.01)), feature("no_ride", bad))))
    with pytest.raises(CommandError, match="geometry_invalid: feature 1: .*at least 4 positions"):
        call_command("import_zones", "berlin", str(path))
    assert not Zone.objects.exists()
    path.write_text(json.dumps(collection(feature("lake", square(13.1, 52.1, 0.01)))))
    with pytest.raises(CommandError, match="Unknown zone kind 'lake'"):
        call_command("import_zones", "berlin", str(path))
    with pytest.raises(CommandError, match="No city"):
        call_command("import_zones", "atlantis", str(path))


@pytest.mark.django_db(transaction=True)
def test_geofence_cache_is_invalidated_when_zones_change(city: Any, scooter: Any) -> None:
    ZoneFactory.create(city=city)
    point = (13.35, 52.55)
    before = selectors.geofence_for_city(city.id)
    assert selectors.geofence_for_city(city.id) is before  # cached
    assert before.evaluate(*point, "scooter", timezone.now()).ride_end_allowed is True
    other_process = zone_selectors._cache[city.id]
    services.zone_create(city=city, name="No parking", kind="no_parking", geometry=square(13.3, 52.5, 0.1), priority=1)
    assert city.id not in zone_selectors._cache  # this process dropped its copy on commit
    zone_selectors._cache[city.id] = other_process  # another process still holds the old compilation...
    assert selectors.geofence_for_city(city.id) is before  # ...for at most a second
    other_process.checked_at -= 5  # its next check is due: it sees the new version in Redis
    after = selectors.geofence_for_city(city.id)
    assert after is not before
    assert after.evaluate(*point, "scooter", timezone.now()).ride_end_allowed is False


@pytest.mark.django_db
def test_outside_the_operating_area_rides_cannot_end(city: Any) -> None:
    ZoneFactory.create(city=city, geometry=square(13.0, 52.0, 0.5))
    verdict = selectors.geofence_for_city(city.id).evaluate(14.9, 52.9, "scooter", timezone.now())
    assert (verdict.ride_start_allowed, verdict.ride_end_allowed, verdict.ride_through_allowed) == (False, False, True)


@pytest.mark.django_db
def test_zones_at_point_returns_geojson_in_precedence_order(api: Any, city: Any) -> None:
    area = ZoneFactory.create(city=city)
    slow = ZoneFactory.create(city=city, kind="slow", maximum_speed_kph=12, priority=1, geometry=square(13.3, 52.5, 0.1))
    ZoneFactory.create(city=city, kind="no_ride", priority=0, geometry=square(13.3, 52.5, 0.1),
                       ends_at=timezone.now() - timedelta(days=1), starts_at=timezone.now() - timedelta(days=2))
    r = api.get("/api/v1/zones", {"lat": 52.55, "lon": 13.35})
    assert r.status_code == 200 and r.json()["type"] == "FeatureCollection"
    ids = [f["properties"]["id"] for f in r.json()["features"]]
    assert ids == [str(slow.id), str(area.id)]  # the expired no-ride zone is not active
    assert r.json()["features"][0]["properties"]["rules"][0]["maximum_speed_kph"] == 12
    r = api.get("/api/v1/zones", {"lat": 95, "lon": 13})
    assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_coordinates")


@pytest.mark.django_db
def test_city_zones_endpoint(api: Any, city: Any, django_assert_max_num_queries: Any) -> None:
    for i in range(5):
        ZoneFactory.create(city=city, priority=i, geometry=square(13.0 + i / 10, 52.0, 0.05))
    with django_assert_max_num_queries(4):
        r = api.get(f"/api/v1/cities/{city.id}/zones")
    assert r.status_code == 200 and len(r.json()["features"]) == 5
    feature = r.json()["features"][0]["properties"]
    assert feature["name"] == [{"text": "Zone " + feature["name"][0]["text"].split()[-1], "language": "de"}]
    r = api.get("/api/v1/cities/00000000-0000-0000-0000-000000000000/zones")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "city_not_found")


@pytest.mark.django_db
def test_import_replace_swaps_the_city_zones(city: Any, tmp_path: Path) -> None:
    old = ZoneFactory.create(city=city)
    other_city_zone = ZoneFactory.create()
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(collection(feature("no_parking", square(13.1, 52.1, 0.01), name="New"))))
    call_command("import_zones", "berlin", str(path), "--replace")
    assert list(Zone.objects.filter(city=city).values_list("name", flat=True)) == ["New"]
    assert not Zone.objects.filter(id=old.id).exists() and Zone.objects.filter(id=other_city_zone.id).exists()


@pytest.mark.django_db
def test_gbfs_geofencing_zones_feed_validates_against_the_official_schema(city: Any, scooter: Any) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parent / "schemas" / "gbfs_v3.0_geofencing_zones.json").read_text())
    ZoneFactory.create(city=city)
    slow = services.zone_create(city=city, name="Park", kind="slow", geometry=square(13.3, 52.5, 0.05), priority=1,
                                rules={"maximum_speed_kph": 10}, vehicle_types=[scooter],
                                starts_at=timezone.now(), ends_at=timezone.now() + timedelta(days=1))
    feed = selectors.gbfs_geofencing_zones(city_id=city.id)
    jsonschema.validate(feed, schema, format_checker=jsonschema.FormatChecker())
    first = feed["data"]["geofencing_zones"]["features"][0]["properties"]
    assert first["name"] == [{"text": slow.name, "language": "de"}]
    assert first["rules"] == [{"vehicle_type_ids": ["scooter"], "ride_start_allowed": True, "ride_end_allowed": True,
                               "ride_through_allowed": True, "maximum_speed_kph": 10}]
    assert feed["data"]["global_rules"] == [
        {"ride_start_allowed": False, "ride_end_allowed": False, "ride_through_allowed": True}
    ]
