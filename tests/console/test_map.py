"""The fleet map's admin endpoints: who may open the page, get a socket ticket, read a vehicle's panel and send
commands from it (the same permissions as the admin's actions, fleet/roles.py); the layers; command.closed on the
fleet socket."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts import roles
from fleet import services as fleet_services
from fleet.models import Command, CommandState
from fleet.states import Status
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory, ZoneFactory
from tests.live.conftest import communicator, receive, run

pytestmark = pytest.mark.django_db

MAP = "/admin/map/"


def _staff(role: str | None) -> Any:
    user = UserFactory.create(is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _client(user: Any, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


@pytest.fixture
def city() -> Any:
    return CityFactory.create(slug="berlin", name="Berlin", timezone="Europe/Berlin")


@pytest.fixture
def vehicle(city: Any) -> Any:
    return VehicleFactory.create(city=city, vehicle_type=VehicleTypeFactory.create(code="scooter"), code="FW0042",
                                 lat=52.52, lon=13.40)


def test_the_page_is_for_staff_with_the_fleet_read_permission(city, vehicle):
    page = _client(_staff(roles.SUPPORT_AGENT)).get(MAP + "?city=berlin")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="fw-map"' in body and "vendor/leaflet/leaflet.js" in body and "console/map.js" in body
    config = page.context["map_config"]
    assert config["city"]["id"] == str(city.id)
    assert list(config["extent"]) == [13.40, 52.52, 13.40, 52.52]
    assert config["commands"] == []  # a support agent reads, sends nothing
    assert config["time_zone"] == "Europe/Berlin"  # the admin's zone (here: the only city's)
    # No inline script or style on the page: the CSP allows none (json_script is data, not script).
    assert "<script>" not in body and "style=" not in body
    assert "unsafe-inline" not in page["Content-Security-Policy"]

    assert _client(_staff(roles.FINANCE)).get(MAP).status_code == 403
    rider = Client()
    rider.force_login(UserFactory.create())
    assert rider.get(MAP).status_code == 302  # the admin's login: not staff


def test_the_map_is_linked_first_in_the_admin_navigation_and_from_the_dashboard(city):
    client = _client(_staff(roles.FLEET_MANAGER))
    home = client.get("/admin/").content.decode()
    assert home.index('class="fw-nav-global"') < home.index('id="content"')
    assert f'href="{MAP}?city=berlin"' in home  # the dashboard's button
    changelist = client.get("/admin/fleet/vehicle/").content.decode()
    assert changelist.index(f'<a href="{MAP}">Fleet map</a>') < changelist.index('id="nav-filter"')
    finance = _client(_staff(roles.FINANCE)).get("/admin/").content.decode()
    assert MAP not in finance


def test_no_city_yet_says_how_to_add_one():
    page = _client(_staff(roles.SUPPORT_AGENT)).get(MAP)
    assert page.status_code == 200 and "No city yet" in page.content.decode()


def test_the_socket_origin_setting_is_allowed_by_the_pages_policy(city, settings):
    settings.CONSOLE_MAP_SOCKET_ORIGIN = "wss://ws.example.com"
    page = _client(_staff(roles.SUPPORT_AGENT)).get(MAP)
    assert "connect-src 'self' wss://ws.example.com" in page["Content-Security-Policy"]
    assert page.context["map_config"]["socket_origin"] == "wss://ws.example.com"


@pytest.mark.django_db(transaction=True)
def test_a_ticket_needs_the_csrf_token_and_the_permission_and_opens_the_fleet_socket_once(city):
    user = _staff(roles.SUPPORT_AGENT)
    client = _client(user, csrf=True)
    url = reverse("console-map-ticket")
    assert client.post(url).status_code == 403  # no CSRF token: another site cannot mint a ticket
    client.get(MAP)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    answer = client.post(url, HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    ticket = answer.json()["ticket"]
    assert client.get(url).status_code == 405

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}&ticket={ticket}")
        assert (await comm.connect())[0] is True
        assert (await receive(comm))["type"] == "snapshot"
        await comm.disconnect()
        again = communicator(f"/ws/v1/fleet?city={city.id}&ticket={ticket}")
        assert (await again.connect())[0] is False  # single use
        await again.disconnect()

    run(body)

    finance = _client(_staff(roles.FINANCE), csrf=True)
    finance.get("/admin/")
    assert finance.post(url, HTTP_X_CSRFTOKEN=finance.cookies["csrftoken"].value).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_ticket_of_a_staff_member_without_the_permission_is_refused_at_the_handshake(city):
    import time

    from live import services as live_services

    ticket = live_services.ws_ticket_issue(user=_staff(roles.FINANCE), token_expires_at=time.time() + 60)

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}&ticket={ticket}")
        assert (await comm.connect())[0] is False
        await comm.disconnect()

    run(body)


def test_the_panel_shows_the_vehicle_its_ride_tasks_alerts_and_the_commands_this_role_may_send(city, vehicle):
    fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tipped_over", message="fell over")
    fleet_services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery", reason="12 %")
    url = reverse("console-map-vehicle", args=[vehicle.id])
    panel = _client(_staff(roles.FIELD_TECHNICIAN)).get(url).json()
    assert (panel["code"], panel["status"], panel["battery_pct"], panel["ride"]) == ("FW0042", "available", 80, None)
    assert [a["message"] for a in panel["alerts"]] == ["fell over"]
    assert [t["reason"] for t in panel["tasks"]] == ["12 %"]
    assert panel["allowed"] == ["lock", "unlock", "locate", "alarm", "set_speed_limit", "back_in_service"]
    assert _client(_staff(roles.SUPPORT_AGENT)).get(url).json()["allowed"] == []
    assert _client(_staff(roles.FINANCE)).get(url).status_code == 403
    assert _client(_staff(roles.SUPPORT_AGENT)).get(
        reverse("console-map-vehicle", args=[uuid.uuid4()])).status_code == 404


def test_the_panel_links_the_vehicles_open_ride(city, vehicle):
    from rides.models import Ride, RideState

    rider = UserFactory.create()
    ride = Ride.objects.create(rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=city,
                               state=RideState.ACTIVE, currency="EUR", tariff={})
    panel = _client(_staff(roles.SUPPORT_AGENT)).get(reverse("console-map-vehicle", args=[vehicle.id])).json()
    assert panel["ride"]["id"] == str(ride.id)
    assert panel["ride"]["url"] == reverse("admin:rides_ride_change", args=[ride.id])


def _command(client: Client, vehicle: Any, **body: Any) -> Any:
    return client.post(reverse("console-map-command", args=[vehicle.id]), json.dumps(body),
                       content_type="application/json")


def test_commands_from_the_panel_are_permission_checked_and_queued_through_the_fleet_services(city, vehicle):
    assert _command(_client(_staff(roles.SUPPORT_AGENT)), vehicle, kind="lock").status_code == 403
    assert not Command.objects.exists()

    technician = _staff(roles.FIELD_TECHNICIAN)
    client = _client(technician)
    answer = _command(client, vehicle, kind="set_speed_limit", max_speed_kph=15, key="click-1")
    assert answer.status_code == 202, answer.content
    command = Command.objects.get()
    assert (command.kind, command.params, command.actor, command.state) == (
        "set_speed_limit", {"max_speed_kph": 15}, technician, CommandState.QUEUED)
    assert answer.json()["command_id"] == str(command.id)
    # The same click sent twice (a retried request) is one command.
    assert _command(client, vehicle, kind="set_speed_limit", max_speed_kph=15, key="click-1").json()[
        "command_id"] == str(command.id)
    refused = _command(client, vehicle, kind="set_speed_limit", max_speed_kph=500)
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "command_invalid")
    assert _command(client, vehicle, kind="self_destruct").status_code == 422
    for body in ("[1]", "not json", '"lock"'):  # a body that is no JSON object is a 400, not a 500
        bad = client.post(reverse("console-map-command", args=[vehicle.id]), body, content_type="application/json")
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_json")
    assert Command.objects.count() == 1


def test_back_in_service_needs_the_maintenance_permission_and_a_vehicle_in_maintenance(city, vehicle):
    technician = _client(_staff(roles.FIELD_TECHNICIAN))
    refused = _command(technician, vehicle, kind="back_in_service")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "vehicle_transition_not_allowed")
    fleet_services.vehicle_set_maintenance(vehicle_id=vehicle.id)
    assert _command(_client(_staff(roles.SUPPORT_AGENT)), vehicle, kind="back_in_service").status_code == 403
    assert _command(technician, vehicle, kind="back_in_service").json()["status"] == "available"
    vehicle.refresh_from_db()
    assert vehicle.status == Status.AVAILABLE
    assert vehicle.events.order_by("-timestamp").first().actor_kind == "ops"


def test_layers_give_zones_by_kind_and_open_alerts_and_tasks_at_their_vehicle(city, vehicle):
    ZoneFactory.create(city=city, kind="no_parking", name="Alex")
    fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tamper")
    fleet_services.ops_task_open(vehicle_id=vehicle.id, kind="inspect")
    layers = _client(_staff(roles.SUPPORT_AGENT)).get(reverse("console-map-layers", args=[city.id])).json()
    assert [f["properties"]["kind"] for f in layers["zones"]["features"]] == ["no_parking"]
    assert [(a["code"], a["lat"], a["lon"]) for a in layers["alerts"]] == [("FW0042", 52.52, 13.40)]
    assert [t["kind"] for t in layers["tasks"]] == ["Inspect"]
    assert _client(_staff(roles.SUPPORT_AGENT)).get(
        reverse("console-map-layers", args=[uuid.uuid4()])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_closed_command_reaches_the_citys_fleet_sockets(city, vehicle):
    from tests.live.conftest import bearer

    staff = _staff(roles.SUPPORT_AGENT)
    command = fleet_services.command_queue(vehicle_id=vehicle.id, kind="locate")

    async def body() -> None:
        from asgiref.sync import sync_to_async

        comm = communicator(f"/ws/v1/fleet?city={city.id}", bearer(staff))
        assert (await comm.connect())[0] is True
        await receive(comm)
        await sync_to_async(fleet_services.command_deliver)(command_id=command.id)
        await sync_to_async(fleet_services.command_ack)(command_id=command.id, ok=True)
        closed = await receive(comm)
        assert closed["type"] == "command.closed"
        assert {k: closed["data"][k] for k in ("command_id", "vehicle_id", "kind", "state")} == {
            "command_id": str(command.id), "vehicle_id": str(vehicle.id), "kind": "locate", "state": "acked"}
        await comm.disconnect()

    run(body)
