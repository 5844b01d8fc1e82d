"""``core.admin.CityTimeZoneAdmin``: a page about one object of one city shows, and reads, times in the city's zone,
whatever the staff member's own zone; lists keep the staff member's zone (docs/admin.md "Local time")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from fleet import services as fleet_services
from fleet.models import Zone
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, ZoneFactory, square

pytestmark = pytest.mark.django_db
AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 9:30 in Berlin, 3:30 in New York, 17:30 in Tokyo


@pytest.fixture
def new_yorker(client: Client) -> Client:
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True, time_zone="America/New_York"))
    return client


def test_an_alert_a_task_and_a_zone_of_tokyo_are_in_tokyos_time(new_yorker: Client) -> None:
    tokyo = CityFactory.create(slug="tokyo", timezone="Asia/Tokyo")
    vehicle = VehicleFactory.create(city=tokyo)
    alert = fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper", message="moved while locked")
    task = fleet_services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    zone = ZoneFactory.create(city=tokyo, starts_at=AT)
    type(alert).objects.filter(pk=alert.pk).update(opened_at=AT)
    type(task).objects.filter(pk=task.pk).update(created_at=AT)
    for url in (f"/admin/fleet/opsalert/{alert.pk}/change/", f"/admin/fleet/opstask/{task.pk}/change/",
                f"/admin/fleet/zone/{zone.pk}/change/", f"/admin/fleet/city/{tokyo.pk}/change/"):
        html = new_yorker.get(url).content.decode()
        assert "Times in Asia/Tokyo, this city's zone" in html, url
    assert "5:30 p.m." in new_yorker.get(f"/admin/fleet/opsalert/{alert.pk}/change/").content.decode()
    listing = new_yorker.get("/admin/fleet/opsalert/").content.decode()
    assert "Times in America/New_York" in listing and "3:30 a.m." in listing


def test_a_time_typed_on_a_citys_zone_page_is_read_in_the_citys_zone(new_yorker: Client) -> None:
    berlin = CityFactory.create(slug="berlin", timezone="Europe/Berlin")
    form = {"city": str(berlin.id), "name": "Market", "kind": "no_ride", "priority": 5, "active": "on",
            "ride_start_allowed": "", "ride_end_allowed": "", "ride_through_allowed": "",
            "station_parking": "unknown", "geometry": json.dumps(square(13.3, 52.5, 0.01))}
    assert new_yorker.post("/admin/fleet/zone/add/", form).status_code == 302  # no object yet: the staff's zone
    zone = Zone.objects.get(name="Market")
    typed = {**form, "starts_at_0": "2026-12-07", "starts_at_1": "09:30:00"}
    assert new_yorker.post(f"/admin/fleet/zone/{zone.pk}/change/", typed).status_code == 302
    zone.refresh_from_db()
    assert zone.starts_at == AT  # 9:30 in Berlin, not 9:30 in New York


def test_a_page_of_an_object_that_does_not_exist_is_the_admins_usual_answer(new_yorker: Any) -> None:
    assert new_yorker.get("/admin/fleet/opsalert/not-an-id/change/").status_code == 302
    assert new_yorker.get("/admin/fleet/opsalert/00000000-0000-0000-0000-000000000000/change/").status_code == 302
