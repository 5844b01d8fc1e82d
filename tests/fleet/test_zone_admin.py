"""The zone page of the admin (issue 21): geometry drawn on the map arrives as GeoJSON and becomes a geofence at once,
a refused geometry is placed on the map, schedule and per-type rules are form fields, every save is a version with
its author, and the GBFS preview answers for unsaved form data."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from fleet.models import Zone
from fleet.selectors import zones as zone_selectors
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleTypeFactory, ZoneFactory, square

ZONES = "/admin/fleet/zone/"
PREVIEW = "/admin/gbfs/zone-preview/"


@pytest.fixture
def ops(client: Client, staff: Any) -> Client:
    client.force_login(staff)
    return client


def zone_form(city: Any, **fields: Any) -> dict[str, Any]:
    """The change form's fields as the browser posts them (the schedule in the admin's split date/time widgets)."""
    form = {"city": str(city.id), "name": "Alexanderplatz", "kind": "no_parking", "priority": "10", "active": "on",
            "ride_start_allowed": "", "ride_end_allowed": "", "ride_through_allowed": "", "station_parking": "unknown",
            "geometry": json.dumps(square(13.41, 52.52, 0.004)), "starts_at_0": "", "starts_at_1": "",
            "ends_at_0": "", "ends_at_1": "", "vehicle_cap": "", "maximum_speed_kph": ""}
    return form | fields


@pytest.mark.django_db(transaction=True)
def test_a_drawn_polygon_is_saved_and_is_a_geofence_at_once(ops: Client, city: Any) -> None:
    # What zone_map.js writes into the field after drawing: a Polygon from Leaflet's toGeoJSON, closed, lon/lat.
    drawn = {"type": "MultiPolygon", "coordinates": [[[[13.41, 52.52], [13.414, 52.52], [13.414, 52.524],
                                                         [13.41, 52.524], [13.41, 52.52]]]]}
    assert zone_selectors.geofence_for_city(city.id).evaluate(13.412, 52.522).zone_id is None
    r = ops.post(f"{ZONES}add/", zone_form(city, geometry=json.dumps(drawn)))
    assert r.status_code == 302, r.content.decode()[:2000]
    zone = Zone.objects.get()
    assert zone.geometry["coordinates"][0][0][0] == [13.41, 52.52]
    verdict = zone_selectors.geofence_for_city(city.id).evaluate(13.412, 52.522)
    assert (verdict.zone_id, verdict.ride_end_allowed) == (str(zone.id), False)


@pytest.mark.django_db
def test_a_pasted_polygon_also_works(ops: Client, city: Any) -> None:
    pasted = {"type": "Polygon", "coordinates": [[[13.41, 52.52], [13.41, 52.53], [13.42, 52.53], [13.41, 52.52]]]}
    assert ops.post(f"{ZONES}add/", zone_form(city, geometry=json.dumps(pasted))).status_code == 302
    # Normalised to a counter-clockwise MultiPolygon (the GBFS right-hand rule).
    assert Zone.objects.get().geometry["type"] == "MultiPolygon"


@pytest.mark.django_db
def test_a_self_intersecting_polygon_is_refused_and_its_crossing_placed_on_the_map(ops: Client, city: Any) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[13.40, 52.50], [13.42, 52.52], [13.42, 52.50], [13.40, 52.52],
                                                  [13.40, 52.50]]]}
    r = ops.post(f"{ZONES}add/", zone_form(city, geometry=json.dumps(bowtie)))
    page = r.content.decode()
    assert r.status_code == 200 and "Self-intersection" in page  # in the form, next to the field
    data = json.loads(page.split('id="zone-map-data" type="application/json">')[1].split("</script>")[0])
    problem = data["problem"]
    assert "Self-intersection" in problem["message"]
    assert problem["location"] == pytest.approx([13.41, 52.51])  # where the edges cross
    assert not Zone.objects.exists()


@pytest.mark.django_db
def test_too_few_points_are_placed_at_the_ring(ops: Client, city: Any) -> None:
    line = {"type": "Polygon", "coordinates": [[[13.40, 52.50], [13.42, 52.52], [13.40, 52.50]]]}
    page = ops.post(f"{ZONES}add/", zone_form(city, geometry=json.dumps(line))).content.decode()
    data = json.loads(page.split('id="zone-map-data" type="application/json">')[1].split("</script>")[0])
    assert "at least 4 positions" in data["problem"]["message"]
    assert data["problem"]["location"] == [13.40, 52.50]


@pytest.mark.django_db
def test_the_change_page_carries_the_citys_other_zones_for_the_map(ops: Client, city: Any) -> None:
    area = ZoneFactory.create(city=city, name="Berlin area")
    zone = ZoneFactory.create(city=city, name="Museum island", kind="no_parking", geometry=square(13.39, 52.51, 0.01))
    page = ops.get(f"{ZONES}{zone.id}/change/").content.decode()
    data = json.loads(page.split('id="zone-map-data" type="application/json">')[1].split("</script>")[0])
    names = [f["properties"]["name"] for f in data["context"]["features"]]
    assert names == [area.name]  # the others, not the zone itself
    assert data["context"]["features"][0]["properties"] == {"name": "Berlin area", "kind": "operating_area",
                                                           "city": str(city.id)}
    assert data["problem"] is None and data["editable"] is True


@pytest.mark.django_db
def test_schedule_and_per_type_rules_are_edited_in_the_form(ops: Client, city: Any) -> None:
    scooter, bike = VehicleTypeFactory.create(code="scooter"), VehicleTypeFactory.create(code="bike")
    form = zone_form(city, kind="slow", maximum_speed_kph="12", vehicle_types=[str(scooter.id)],
                     starts_at_0="2026-12-24", starts_at_1="08:00:00", ends_at_0="2026-12-24", ends_at_1="20:00:00")
    assert ops.post(f"{ZONES}add/", form).status_code == 302
    zone = Zone.objects.get()
    # Times typed in the admin's zone (the only city's, Europe/Berlin here: UTC+1 in December).
    assert (zone.starts_at, zone.ends_at) == (datetime(2026, 12, 24, 7, tzinfo=UTC), datetime(2026, 12, 24, 19, tzinfo=UTC))
    assert [t.code for t in zone.vehicle_types.all()] == ["scooter"] and zone.maximum_speed_kph == 12
    form |= {"vehicle_types": [str(bike.id)], "ride_through_allowed": "False"}
    assert ops.post(f"{ZONES}{zone.id}/change/", form).status_code == 302
    zone.refresh_from_db()
    assert [t.code for t in zone.vehicle_types.all()] == ["bike"] and zone.ride_through_allowed is False
    form["ends_at_1"] = "07:00:00"
    page = ops.post(f"{ZONES}{zone.id}/change/", form).content.decode()
    assert "errornote" in page  # the end before the start: refused by the model's constraint


@pytest.mark.django_db
def test_every_save_is_one_version_with_its_author_and_what_changed(client: Client, city: Any) -> None:
    manager = UserFactory.create(is_staff=True, is_superuser=True, email="mia@example.com")
    client.force_login(manager)
    scooter = VehicleTypeFactory.create(code="scooter")
    assert client.post(f"{ZONES}add/", zone_form(city, vehicle_types=[str(scooter.id)])).status_code == 302
    zone = Zone.objects.get()
    form = zone_form(city, name="Alexanderplatz north", vehicle_types=[], geometry=json.dumps(square(13.41, 52.52, 0.005)))
    assert client.post(f"{ZONES}{zone.id}/change/", form).status_code == 302
    versions = list(zone.history.order_by("history_date"))
    assert [(v.history_type, v.history_user_id) for v in versions] == [("+", manager.id), ("~", manager.id)]
    assert [t.vehicletype_id for t in versions[0].vehicle_types.all()] == [scooter.id]
    assert list(versions[1].vehicle_types.all()) == []
    changed = {change.field for change in versions[1].diff_against(versions[0]).changes}
    assert changed == {"name", "geometry", "vehicle_types"}
    page = client.get(f"{ZONES}{zone.id}/history/").content.decode()
    assert "Alexanderplatz north" in page and "mia@example.com" in page  # the author of each version
    assert "Changed" in page and "Created" in page
    old = client.get(f"{ZONES}{zone.id}/history/{versions[0].history_id}/").content.decode()
    assert 'value="Alexanderplatz"' in old and "Revert to this version" in old
    assert f'<option value="{scooter.id}" selected>' in old  # the version's types, not today's (none)


@pytest.mark.django_db
def test_an_old_version_can_be_restored(ops: Client, city: Any) -> None:
    assert ops.post(f"{ZONES}add/", zone_form(city)).status_code == 302
    zone = Zone.objects.get()
    first = zone.history.get()
    assert ops.post(f"{ZONES}{zone.id}/change/", zone_form(city, name="Renamed")).status_code == 302
    assert ops.post(f"{ZONES}{zone.id}/history/{first.history_id}/", zone_form(city)).status_code == 302
    zone.refresh_from_db()
    assert zone.name == "Alexanderplatz" and zone.history.count() == 3


@pytest.mark.django_db
def test_gbfs_preview_of_unsaved_form_data(ops: Client, city: Any) -> None:
    scooter = VehicleTypeFactory.create(code="scooter")
    ZoneFactory.create(city=city)  # an operating area: global rules
    form = zone_form(city, kind="slow", maximum_speed_kph="15", vehicle_types=[str(scooter.id)],
                     starts_at_0="2026-12-24", starts_at_1="08:00:00")
    body = ops.post(PREVIEW, form).json()
    assert body["valid"] is True and body["published"] is True
    v3 = body["v3"]["geofencing_zones"]["features"][0]["properties"]
    assert v3["rules"] == [{"vehicle_type_ids": ["scooter"], "ride_start_allowed": True, "ride_end_allowed": True,
                            "ride_through_allowed": True, "maximum_speed_kph": 15}]
    assert v3["start"] == "2026-12-24T07:00:00+00:00" and v3["name"] == [{"text": "Alexanderplatz", "language": city.default_language}]
    assert body["v3"]["global_rules"] == [{"ride_start_allowed": False, "ride_end_allowed": False,
                                           "ride_through_allowed": True}]
    v2 = body["v2"]["geofencing_zones"]["features"][0]["properties"]
    assert v2["rules"] == [{"ride_allowed": True, "ride_through_allowed": True, "vehicle_type_id": ["scooter"],
                            "maximum_speed_kph": 15}]
    assert v2["start"] == int(datetime(2026, 12, 24, 7, tzinfo=UTC).timestamp()) and v2["name"] == "Alexanderplatz"
    assert not Zone.objects.filter(kind="slow").exists()  # nothing saved


@pytest.mark.django_db
def test_gbfs_preview_says_what_is_wrong_and_what_is_not_published(ops: Client, city: Any) -> None:
    bad = {"type": "Polygon", "coordinates": [[[13.40, 52.50], [13.42, 52.52], [13.42, 52.50], [13.40, 52.52],
                                               [13.40, 52.50]]]}
    body = ops.post(PREVIEW, zone_form(city, kind="slow", geometry=json.dumps(bad))).json()
    assert body["valid"] is False
    assert set(body["errors"]) == {"geometry", "maximum_speed_kph"}
    assert body["geometry_problem"]["location"] == pytest.approx([13.41, 52.51])
    body = ops.post(PREVIEW, zone_form(city, kind="cap", vehicle_cap="20")).json()
    assert body["valid"] is True and body["published"] is False and "ops only" in body["note"]


@pytest.mark.django_db
def test_gbfs_preview_needs_a_staff_member_who_may_read_zones(client: Client, city: Any) -> None:
    assert client.post(PREVIEW, zone_form(city)).status_code == 302  # to the admin's login
    client.force_login(UserFactory.create(is_staff=True))  # staff, no fleet permission
    assert client.post(PREVIEW, zone_form(city)).status_code == 403
    assert client.get(PREVIEW).status_code in (403, 405)


@pytest.mark.django_db
def test_gbfs_preview_warns_of_a_zone_outside_the_operating_area(ops: Client, city: Any) -> None:
    ZoneFactory.create(city=city)  # the operating area: 13-14 E, 52-53 N
    inside = ops.post(PREVIEW, zone_form(city)).json()
    assert inside["valid"] is True and inside["warning"] is None
    swapped = {"type": "Polygon", "coordinates": [[[52.52, 13.41], [52.53, 13.41], [52.53, 13.42], [52.52, 13.41]]]}
    body = ops.post(PREVIEW, zone_form(city, geometry=json.dumps(swapped))).json()
    assert body["valid"] is True  # allowed: only a warning
    assert "outside Berlin's operating area" in body["warning"]["message"]
    lon, lat = body["warning"]["location"]
    assert 52.52 <= lon <= 52.53 and 13.41 <= lat <= 13.42
    area = ops.post(PREVIEW, zone_form(city, kind="operating_area", geometry=json.dumps(swapped))).json()
    assert area["warning"] is None  # a second operating area is where it is
