"""Staff belong to cities (docs/accounts.md "Cities"): a Berlin technician sees and acts on Berlin only, through
every door: the admin (lists, object pages, actions, choices, filters), the staff API, the map and /ops/tasks/."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.services.roles import roles_sync
from fleet import selectors, services
from fleet.models import Command, OpsTask, StaffCities, Vehicle, Zone
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code
from tests.fleet.factories import SQUARE, CityFactory, VehicleFactory, ZoneFactory

pytestmark = pytest.mark.django_db


def member(role: str, cities: list[Any] | None) -> Any:
    roles_sync()
    user = UserFactory.create(is_staff=True, staff_cities=cities)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def berlin() -> Any:
    return CityFactory.create(slug="berlin", name="Berlin")


@pytest.fixture
def hamburg() -> Any:
    return CityFactory.create(slug="hamburg", name="Hamburg")


@pytest.fixture
def ber(berlin: Any) -> Vehicle:
    return VehicleFactory.create(code="BER100", city=berlin)


@pytest.fixture
def ham(hamburg: Any) -> Vehicle:
    return VehicleFactory.create(code="HAM100", city=hamburg, lat=53.55, lon=9.99)


@pytest.fixture
def tech(berlin: Any) -> Any:
    return member("field_technician", [berlin])


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the grant ----------------------------------------------------------------------------------------------------

def test_scope_is_none_for_all_cities_the_cities_given_or_empty_and_safe_by_default(berlin: Any, hamburg: Any) -> None:
    boss = UserFactory.create(is_staff=True, is_superuser=True, staff_cities=[])
    everywhere = UserFactory.create(is_staff=True)  # the factory's default, as the migration gives existing staff
    some = UserFactory.create(is_staff=True, staff_cities=[berlin])
    new = UserFactory.create(is_staff=True, staff_cities=[])
    StaffCities.objects.filter(user=new).delete()  # never given any city
    assert selectors.staff_city_ids(boss) is None
    assert selectors.staff_city_ids(everywhere) is None
    assert selectors.staff_city_ids(some) == {berlin.id}
    assert selectors.staff_city_ids(new) == set()
    assert list(selectors.staff_cities(new)) == []

    grant = services.staff_cities_set(user=new, cities=[hamburg], all_cities=False, by=boss)
    assert (grant.updated_by, selectors.staff_city_ids(new)) == (boss, {hamburg.id})  # the cache is dropped
    services.staff_cities_set(user=new, cities=[hamburg], all_cities=True, by=boss)
    assert selectors.staff_city_ids(new) is None
    assert StaffCities.objects.filter(user=new).count() == 1


def test_the_upgrade_gives_every_existing_staff_member_every_city_and_riders_nothing(berlin: Any) -> None:
    migration = importlib.import_module("fleet.migrations.0020_staff_cities_grant_existing")
    staff = UserFactory.create(is_staff=True, staff_cities=[])
    StaffCities.objects.filter(user=staff).delete()
    limited = UserFactory.create(is_staff=True, staff_cities=[berlin])
    rider = UserFactory.create()
    migration.grant_all(apps, None)
    assert selectors.staff_city_ids(staff) is None
    assert selectors.staff_city_ids(limited) == {berlin.id}  # a grant already made is kept
    assert not StaffCities.objects.filter(user=rider).exists()


# --- the admin ----------------------------------------------------------------------------------------------------

def test_the_vehicle_list_page_and_filter_show_own_cities_only(berlin: Any, ber: Vehicle, ham: Vehicle) -> None:
    potsdam = CityFactory.create(slug="potsdam", name="Potsdam")
    client = logged_in(member("field_technician", [berlin, potsdam]))
    page = client.get("/admin/fleet/vehicle/")
    assert [v.code for v in page.context["cl"].result_list] == ["BER100"]
    city_filter = next(f for f in page.context["cl"].filter_specs if getattr(f, "field_path", "") == "city")
    assert [name for _, name in city_filter.lookup_choices] == ["Berlin", "Potsdam"]
    assert client.get(f"/admin/fleet/vehicle/{ham.id}/change/").status_code == 404
    assert client.get(f"/admin/fleet/vehicle/{ham.id}/commands/").status_code == 404  # the page's own panel
    assert client.get(f"/admin/fleet/vehicle/?city__id__exact={ham.city_id}").context["cl"].result_count == 0


def test_a_command_action_on_a_mixed_selection_reaches_berlin_only(tech: Any, ber: Vehicle, ham: Vehicle) -> None:
    client = logged_in(tech)
    chosen = {"action": "send_locate", "index": "0", "_selected_action": [str(ber.id), str(ham.id)]}
    page = client.post("/admin/fleet/vehicle/", chosen).content.decode()  # the confirmation names Berlin's only
    assert "BER100" in page and "HAM100" not in page
    client.post("/admin/fleet/vehicle/", {**chosen, "confirm": "yes", "command_token": "a" * 32})
    client.post("/admin/fleet/vehicle/", {"action": "open_task_inspect",
                                          "_selected_action": [str(ber.id), str(ham.id)]})
    assert list(Command.objects.values_list("vehicle__code", flat=True)) == ["BER100"]
    assert list(OpsTask.objects.values_list("vehicle__code", flat=True)) == ["BER100"]


def test_technicians_still_cannot_change_a_vehicles_code_or_imei(tech: Any, ber: Vehicle) -> None:
    page = logged_in(tech).get(f"/admin/fleet/vehicle/{ber.id}/change/").content.decode()
    assert 'name="code"' not in page and 'name="imei"' not in page


def test_a_manager_creates_zones_in_own_cities_only(berlin: Any, hamburg: Any) -> None:
    manager = logged_in(member("fleet_manager", [berlin]))
    form = manager.get("/admin/fleet/zone/add/").context["adminform"].form
    assert list(form.fields["city"].queryset) == [berlin]
    r = manager.post("/admin/fleet/zone/add/", {
        "city": str(hamburg.id), "name": "Sneaky", "kind": "no_parking", "priority": 10, "active": "on",
        "geometry": '{"type": "MultiPolygon", "coordinates": ' + str(SQUARE["coordinates"]) + "}",
        "ride_start_allowed": "on", "ride_end_allowed": "on", "ride_through_allowed": "on"})
    assert r.status_code == 200 and "city" in r.context["adminform"].form.errors
    assert not Zone.objects.filter(name="Sneaky").exists()
    other, own = ZoneFactory.create(city=hamburg), ZoneFactory.create(city=berlin)
    assert manager.get(f"/admin/fleet/zone/{other.id}/history/").status_code == 404
    for zone, status in ((own, 200), (other, 404)):  # a version's page (django-simple-history's own view)
        version = zone.history.first()
        assert manager.get(f"/admin/fleet/zone/{zone.id}/history/{version.history_id}/").status_code == status
    assert manager.get(f"/admin/fleet/zone/{other.id}/delete/").status_code == 404
    import_form = manager.get("/admin/fleet/zone/import-mds-policy/").context["form"]
    assert list(import_form.fields["city"].queryset) == [berlin]


def test_autocomplete_offers_own_cities_only(berlin: Any, hamburg: Any) -> None:
    manager = member("fleet_manager", [berlin])
    manager.user_permissions.add(*Permission.objects.filter(codename__in=["add_gbfssystem", "view_gbfssystem"]))
    r = logged_in(manager).get("/admin/autocomplete/", {"app_label": "feeds", "model_name": "gbfssystem",
                                                        "field_name": "city", "term": ""})
    assert r.status_code == 200
    assert [row["text"] for row in r.json()["results"]] == ["Berlin"]


# --- the staff API ------------------------------------------------------------------------------------------------

def test_the_api_refuses_another_citys_vehicle_alert_and_task_as_not_found(api: Any, tech: Any, ber: Vehicle,
                                                                          ham: Vehicle) -> None:
    client = api.as_(tech)
    assert client.post(f"/api/v1/vehicles/{ber.id}/commands", {"kind": "locate"}).status_code == 202
    assert code(client.post(f"/api/v1/vehicles/{ham.id}/commands", {"kind": "locate"})) == (404, "vehicle_not_found")
    assert not Command.objects.filter(vehicle=ham).exists()
    ham_command = services.command_queue(vehicle_id=ham.id, kind="locate", actor=None)
    assert code(client.get(f"/api/v1/commands/{ham_command.id}")) == (404, "command_not_found")

    ham_alert = services.ops_alert_open(vehicle_id=ham.id, kind="tipped_over")
    ber_alert = services.ops_alert_open(vehicle_id=ber.id, kind="tipped_over")
    listed = client.get("/api/v1/ops/alerts").json()["results"]
    assert [a["id"] for a in listed] == [str(ber_alert.id)]
    assert code(client.post(f"/api/v1/ops/alerts/{ham_alert.id}/resolve")) == (404, "ops_alert_not_found")
    ham_alert.refresh_from_db()
    assert ham_alert.resolved_at is None

    ham_task = services.ops_task_open(vehicle_id=ham.id, kind="inspect")
    ber_task = services.ops_task_open(vehicle_id=ber.id, kind="inspect")
    assert [t["id"] for t in client.get("/api/v1/ops/tasks").json()["results"]] == [str(ber_task.id)]
    for method, path, body in (
            ("get", f"/api/v1/ops/tasks/{ham_task.id}", None),
            ("get", f"/api/v1/ops/tasks/{ham_task.id}/notes", None),
            ("post", f"/api/v1/ops/tasks/{ham_task.id}/notes", {"text": "x"}),
            ("post", f"/api/v1/ops/tasks/{ham_task.id}/assign", {}),
            ("post", f"/api/v1/ops/tasks/{ham_task.id}/close", {"outcome": "done"})):
        assert code(getattr(client, method)(path, body)) == (404, "ops_task_not_found"), path
    ham_task.refresh_from_db()
    assert (ham_task.state, ham_task.assignee_id) == ("open", None)
    assert code(client.post("/api/v1/ops/tasks", {"vehicle": str(ham.id), "kind": "repair"})) == (
        404, "vehicle_not_found")
    assert not OpsTask.objects.filter(vehicle=ham, kind="repair").exists()


def test_a_task_is_given_only_to_a_colleague_of_its_city(api: Any, tech: Any, berlin: Any, hamburg: Any,
                                                        ber: Vehicle) -> None:
    task = services.ops_task_open(vehicle_id=ber.id, kind="inspect")
    hamburg_tech = member("field_technician", [hamburg])
    r = api.as_(tech).post(f"/api/v1/ops/tasks/{task.id}/assign", {"assignee": str(hamburg_tech.id)})
    assert code(r) == (422, "ops_task_assignee_invalid")
    task.refresh_from_db()
    assert task.assignee_id is None


def test_a_staff_member_of_no_city_sees_no_task(api: Any, ber: Vehicle) -> None:
    services.ops_task_open(vehicle_id=ber.id, kind="inspect")
    nobody = member("field_technician", [])
    assert api.as_(nobody).get("/api/v1/ops/tasks").json()["results"] == []


# --- console map and the technicians' page ------------------------------------------------------------------------

def test_the_map_offers_own_cities_and_refuses_another_citys_vehicle(tech: Any, berlin: Any, ber: Vehicle,
                                                                     ham: Vehicle) -> None:
    client = logged_in(tech)
    page = client.get("/admin/map/")
    assert [c.slug for c in page.context["cities"]] == ["berlin"]
    assert client.get(f"/admin/map/?city={ham.city.slug}").context["city"] == berlin  # falls back to own city
    assert client.get(f"/admin/map/vehicles/{ham.id}").status_code == 404
    assert client.get(f"/admin/map/vehicles/{ber.id}").status_code == 200
    r = client.post(f"/admin/map/vehicles/{ham.id}/command", {"kind": "locate"}, content_type="application/json")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "vehicle_not_found")
    r = client.post(f"/admin/map/vehicles/{ham.id}/task", {"kind": "inspect"}, content_type="application/json")
    assert r.status_code == 404
    assert client.get(f"/admin/map/layers/{ham.city_id}").status_code == 404
    assert not Command.objects.filter(vehicle=ham).exists() and not OpsTask.objects.filter(vehicle=ham).exists()


def test_the_task_page_lists_and_acts_on_own_city_only(tech: Any, ber: Vehicle, ham: Vehicle) -> None:
    ham_task = services.ops_task_open(vehicle_id=ham.id, kind="inspect")
    services.ops_task_open(vehicle_id=ber.id, kind="inspect")
    client = logged_in(tech)
    listing = client.get("/ops/tasks/").content.decode()
    assert "BER100" in listing and "HAM100" not in listing
    assert client.get(f"/ops/tasks/{ham_task.id}/").status_code == 404
    assert client.post(f"/ops/tasks/{ham_task.id}/take").status_code == 404
    assert client.post(f"/ops/tasks/{ham_task.id}/close", {"outcome": "done"}).status_code == 404
    ham_task.refresh_from_db()
    assert (ham_task.state, ham_task.assignee_id) == ("open", None)


def test_a_staff_member_of_no_city_is_told_why_the_console_is_empty(ber: Vehicle) -> None:
    client = logged_in(member("fleet_manager", []))
    for path in ("/admin/", "/admin/map/", "/admin/compliance/"):
        page = client.get(path).content.decode()
        assert "You work in no city yet" in page and "BER100" not in page, path


def test_the_staff_cities_command_shows_and_sets_a_staff_members_cities(berlin: Any, hamburg: Any) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    tech = member("field_technician", [])

    def scope() -> Any:  # read afresh: the command changed another copy of the user
        return selectors.staff_city_ids(type(tech).objects.get(pk=tech.pk))

    out = StringIO()
    call_command("staff_cities", tech.email, "--city", "berlin", "--city", "hamburg", stdout=out)
    assert scope() == {berlin.id, hamburg.id}
    assert out.getvalue().strip() == f"{tech.email}: berlin, hamburg"
    call_command("staff_cities", tech.email, "--all", stdout=out)
    assert scope() is None
    with pytest.raises(CommandError, match="potsdam"):
        call_command("staff_cities", tech.email, "--city", "potsdam")
    assert scope() is None  # unchanged
