"""The admin's compliance page: vehicles parked where no ride may end or outside the operating area, idle vehicles,
zone caps; who may see it; and that it reads the fleet in a fixed number of queries, whatever its size."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.services import roles
from fleet.selectors import compliance
from fleet.states import Status
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory, square

pytestmark = pytest.mark.django_db
URL = "/admin/compliance/"


class Town:
    """A city with an operating area (13.30-13.50 E, 52.45-52.55 N), a no-parking square, a scooter-only cap zone of
    2 and a must-park area with one parking spot; vehicles placed in each."""

    def __init__(self, slug: str = "berlin") -> None:
        self.city = CityFactory.create(slug=slug, name=slug.title())
        self.scooter = VehicleTypeFactory.create(code="scooter")
        self.bike = VehicleTypeFactory.create(code="bike")
        ZoneFactory.create(city=self.city, name="Area", geometry=_box(13.30, 52.45, 13.50, 52.55))
        self.no_parking = ZoneFactory.create(city=self.city, name="Alexanderplatz", kind="no_parking", priority=10,
                                             ride_end_allowed=False, geometry=square(13.41, 52.52, 0.01))
        self.cap = ZoneFactory.create(city=self.city, name="Kiez", kind="cap", vehicle_cap=2, priority=20,
                                      geometry=square(13.35, 52.48, 0.02))
        self.cap.vehicle_types.set([self.scooter])

    def vehicle(self, lon: float, lat: float, **fields: Any) -> Any:
        fields.setdefault("vehicle_type", self.scooter)
        return VehicleFactory.create(city=self.city, lon=lon, lat=lat, **fields)


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


@pytest.fixture
def town() -> Town:
    return Town()


def test_the_report_finds_misparked_outside_idle_and_over_cap(town: Town) -> None:
    fine = town.vehicle(13.45, 52.50)
    misparked = town.vehicle(13.415, 52.525)
    outside = town.vehicle(13.60, 52.50, status=Status.LOW_BATTERY)
    town.vehicle(13.62, 52.50, status=Status.ON_TRIP, trip_id="00000000-0000-0000-0000-000000000001")  # riding
    in_cap = [town.vehicle(13.36, 52.49) for _ in range(3)]
    town.vehicle(13.36, 52.49, vehicle_type=town.bike)  # the cap counts scooters only
    old = timezone.now() - timedelta(days=10)
    town.vehicle(13.44, 52.50, last_event_at=old, code="IDLE01")
    town.vehicle(13.44, 52.50, last_event_at=timezone.now() - timedelta(days=2), code="IDLE02")

    report = compliance.compliance_report(city_id=town.city.id, idle_days=3)
    assert report.parked == 9 and report.has_operating_area
    assert [(r.code, r.zone_name) for r in report.misparked] == [(misparked.code, "Alexanderplatz")]
    assert [r.code for r in report.outside_area] == [outside.code]
    assert [r.code for r in report.idle] == ["IDLE01"] and report.idle_total == 1
    assert [(c.name, c.vehicles, c.cap, c.over) for c in report.caps] == [("Kiez", 3, 2, 1)]
    assert fine.code not in {r.code for r in report.misparked + report.outside_area + report.idle}
    assert len(in_cap) == 3
    assert [r.code for r in compliance.compliance_report(city_id=town.city.id, idle_days=1).idle] == ["IDLE01", "IDLE02"]


def test_a_city_without_operating_area_has_no_vehicle_outside_it() -> None:
    city = CityFactory.create(slug="nowhere")
    VehicleFactory.create(city=city, lon=10.0, lat=50.0)
    report = compliance.compliance_report(city_id=city.id, idle_days=3)
    assert (report.has_operating_area, report.outside_area_total, report.parked) == (False, 0, 1)


def test_the_report_reads_the_fleet_in_a_fixed_number_of_queries(town: Town, django_assert_max_num_queries: Any) -> None:
    for i in range(30):
        town.vehicle(13.411 + i * 0.0002, 52.521)  # all misparked: only the rows shown are read, in one query
    compliance.compliance_report(city_id=town.city.id, idle_days=3)  # compiles the geofence once
    with django_assert_max_num_queries(8):
        report = compliance.compliance_report(city_id=town.city.id, idle_days=3)
    assert report.misparked_total == 30


def test_lists_are_bounded_and_totals_complete(town: Town) -> None:
    for _ in range(5):
        town.vehicle(13.415, 52.525)
    report = compliance.compliance_report(city_id=town.city.id, idle_days=3, rows_max=2)
    assert (len(report.misparked), report.misparked_total) == (2, 5)


def test_the_page_shows_the_rows_linked_to_the_vehicles(client: Client, town: Town) -> None:
    misparked = town.vehicle(13.415, 52.525)
    outside = town.vehicle(13.60, 52.50)
    idle = town.vehicle(13.44, 52.50, last_event_at=timezone.now() - timedelta(days=8))
    [town.vehicle(13.36, 52.49) for _ in range(3)]
    Town("hamburg")  # a second city: the picker, and nothing of it on Berlin's page
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    page = client.get(URL, {"city": "berlin", "idle_days": "5"}).content.decode()
    for vehicle in (misparked, outside, idle):
        assert f'href="/admin/fleet/vehicle/{vehicle.id}/change/">{vehicle.code}</a>' in page
    assert "Parked where no ride may end: 1" in page and "Outside the operating area: 1" in page
    assert "Idle for more than 5 days: 1" in page
    assert 'class="compliance-over"' in page and "1 over the cap" in page
    assert '<option value="hamburg">' in page
    assert client.get(URL, {"city": "berlin", "idle_days": "0"}).status_code == 200  # out of range: the default
    assert 'href="/admin/compliance/"' in client.get("/admin/").content.decode()  # linked in the header


def test_empty_states(client: Client) -> None:
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    assert "No city yet" in client.get(URL).content.decode()
    CityFactory.create(slug="quiet")
    page = client.get(URL).content.decode()
    assert "None: no parked vehicle stands" in page and "has no active operating area" in page
    assert "No active zone of this city has a vehicle cap" in page


@pytest.mark.parametrize(("role", "allowed"), [
    ("support_agent", True), ("field_technician", True), ("fleet_manager", True), ("finance", False),
])
def test_who_may_see_the_page(client: Client, town: Town, role: str, allowed: bool) -> None:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    assert client.get(URL).status_code == (200 if allowed else 403)
    assert ('href="/admin/compliance/"' in client.get("/admin/").content.decode()) is allowed


def test_the_page_needs_a_signed_in_staff_member(client: Client, town: Town) -> None:
    r = client.get(URL)
    assert r.status_code == 302 and r["Location"].startswith("/admin/login/")
