"""The vehicle page (console.admin): map data with the position and the thinned track, the track chooser, the battery
chart, rides, tasks, alerts and commands; every command as a confirmed, permission-checked action whose state the
page shows; a query count that does not grow with the vehicle's history."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from console import vehicle_page
from fleet import services as fleet_services
from fleet.models import Command, OpsAlert, OpsTask, Vehicle, VehicleEvent
from rides.models import Ride
from telemetry import storage
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member

pytestmark = pytest.mark.django_db


def page_url(vehicle: Vehicle) -> str:
    return f"/admin/fleet/vehicle/{vehicle.pk}/change/"


def history(vehicle: Vehicle, *, hours: float, every_s: int, now: datetime | None = None) -> int:
    """Readings of a vehicle driving a loop for the last ``hours``, one every ``every_s``; battery falling."""
    now = now or timezone.now()
    assert vehicle.lat is not None and vehicle.lon is not None
    total = int(hours * 3600)
    rows = []
    for seq, s in enumerate(range(0, total, every_s)):
        at = now - timedelta(seconds=total - s)
        t = s / 3600
        rows.append((vehicle.id, seq, at, at, vehicle.lat + 0.01 * math.sin(t), vehicle.lon + 0.01 * math.cos(t),
                     5.0, 0.0, 12.0, max(5, 95 - int(t * 3)), False, s * 3, None, None, None))
    storage._known.clear()  # partitions created in an earlier, rolled-back test transaction are gone
    storage.ensure_partitions({r[2].date() for r in rows})
    with transaction.atomic():
        storage.insert_skipping_duplicates(rows)
    return len(rows)


def map_data(html: str, name: str = "vehicle-map-data") -> dict[str, Any]:
    found = re.search(rf'<script id="{name}" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None, f"no {name} on the page"
    return json.loads(found.group(1))


def signed_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def vehicle(db: Any) -> Vehicle:
    return VehicleFactory.create(code="PG0001", city=CityFactory.create(slug="berlin", timezone="Europe/Berlin"))


@pytest.fixture
def manager(db: Any) -> User:
    return member("fleet_manager")


def test_the_page_draws_the_position_and_a_thinned_track_of_the_chosen_window(
        client: Client, manager: User, vehicle: Vehicle) -> None:
    readings = history(vehicle, hours=30, every_s=20)  # 5,400 readings, some older than the longest window
    client = signed_in(client, manager)
    six = map_data(client.get(page_url(vehicle)).content.decode())
    one = map_data(client.get(page_url(vehicle), {"track": "1"}).content.decode())
    day = map_data(client.get(page_url(vehicle), {"track": "24"}).content.decode())
    assert readings == 5400
    assert 2 <= len(one["track"]) <= 181 and len(one["track"]) < len(six["track"])  # 1 h at 20 s: 180 readings
    assert len(day["track"]) <= vehicle_page.TRACK_POINTS + 1  # 24 h: 4,320 readings, thinned
    assert day["markers"] == [{"lat": vehicle.lat, "lon": vehicle.lon, "kind": "vehicle", "status": "available",
                               "label": "PG0001: Available, battery 80 %"}]
    html = client.get(page_url(vehicle), {"track": "24"}).content.decode()
    assert '<strong aria-current="true">24 h</strong>' in html and '<a href="?track=1">1 h</a>' in html
    assert 'class="console-chart console-line-chart"' in html and "<polyline" in html
    bogus = client.get(page_url(vehicle), {"track": "10000"})
    assert bogus.status_code == 200 and '<strong aria-current="true">6 h</strong>' in bogus.content.decode()


def test_a_vehicle_without_readings_says_so(client: Client, manager: User) -> None:
    vehicle = VehicleFactory.create(lat=None, lon=None, cell=None, position_at=None, battery_pct=None)
    html = signed_in(client, manager).get(page_url(vehicle)).content.decode()
    assert "No position yet" in html and "No battery reading in the last 6 h" in html
    assert "No ride yet on this vehicle" in html and "No command sent to this vehicle yet" in html
    assert 'id="vehicle-map-data"' not in html


def test_rides_tasks_and_alerts_are_listed_with_links(client: Client, manager: User, vehicle: Vehicle) -> None:
    ride = make_rides(vehicle, 1)[0]
    task = fleet_services.ops_task_open(vehicle_id=vehicle.id, kind="swap_battery", reason="battery at 9 %")
    alert = fleet_services.ops_alert_open(vehicle_id=vehicle.id, kind="tipped_over", message="lying on its side")
    VehicleEvent.objects.bulk_create([
        VehicleEvent(vehicle=vehicle, vehicle_state="on_trip", event_types=["trip_start"], status="on_trip",
                     previous_status="available", timestamp=timezone.now(), actor_kind="rider", trip_id=ride.pk),
        VehicleEvent(vehicle=vehicle, vehicle_state="reserved", event_types=["reservation_start"],
                     status="reserved", previous_status="available", timestamp=timezone.now() - timedelta(minutes=5),
                     actor_kind="rider", trip_id=uuid.uuid4())])
    html = signed_in(client, manager).get(page_url(vehicle)).content.decode()
    log = html[html.index('id="vehicle-events-title"'):]
    assert f'<td><a href="/admin/rides/ride/{ride.pk}/change/">ride</a></td>' in log and "<td>reservation</td>" in log
    assert f'href="/admin/rides/ride/{ride.pk}/change/"' in html
    assert f'href="/admin/fleet/opstask/{task.pk}/change/"' in html and "Swap Battery: battery at 9 %" in html
    assert f'href="/admin/fleet/opsalert/{alert.pk}/change/"' in html and "lying on its side" in html


def make_rides(vehicle: Vehicle, n: int) -> list[Ride]:
    rider = UserFactory.create()
    return Ride.objects.bulk_create([
        Ride(rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=vehicle.city, state="ended",
             tariff={}, currency="EUR", ended_at=timezone.now(), duration_s=600, fare_total="2.50")
        for _ in range(n)])


def lots_of_everything(vehicle: Vehicle, n: int) -> None:
    now = timezone.now()
    actor = UserFactory.create(is_staff=True)
    make_rides(vehicle, n)
    VehicleEvent.objects.bulk_create([
        VehicleEvent(vehicle=vehicle, vehicle_state="available", event_types=["located"], status="available",
                     previous_status="available", timestamp=now - timedelta(minutes=i), actor_kind="ops", actor=actor)
        for i in range(n)])
    Command.objects.bulk_create([
        Command(vehicle=vehicle, kind="locate", idempotency_key=uuid.uuid4().hex, actor=actor, state="acked",
                expires_at=now) for _ in range(n)])
    OpsTask.objects.bulk_create([
        OpsTask(vehicle=vehicle, city=vehicle.city, kind="inspect", state="done", created_at=now, closed_at=now,
                assignee=actor, closed_by=actor) for _ in range(n)])
    OpsAlert.objects.bulk_create([
        OpsAlert(vehicle=vehicle, city=vehicle.city, kind="tamper", opened_at=now, resolved_at=now,
                 resolved_by=actor) for _ in range(n)])


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_page_costs_the_same_queries_with_one_or_many_rows_of_everything(
        client: Client, manager: User, vehicle: Vehicle) -> None:
    other = VehicleFactory.create(city=vehicle.city)
    lots_of_everything(vehicle, 1)
    lots_of_everything(other, 60)  # more than every list on the page shows
    history(vehicle, hours=2, every_s=60)
    history(other, hours=2, every_s=5)
    client = signed_in(client, manager)
    client.get(page_url(vehicle))  # the first request of a session costs more (session, content types)
    few, many = queries(client, page_url(vehicle)), queries(client, page_url(other))
    assert few == many <= 19, (few, many)  # 19: one reads the staff member's cities (fleet.selectors.staff_city_ids)


def action(vehicle: Vehicle, name: str, **extra: Any) -> dict[str, Any]:
    """The change form's action menu posting ``name`` for this vehicle (Django's change-form actions)."""
    return {"CHANGE_FORM-action": name, "index": "0", "_selected_action": str(vehicle.pk), **extra}


def token_of(html: str) -> str:
    found = re.search(r'name="command_token" value="(\w+)"', html)
    assert found is not None, "no confirmation form"
    return found.group(1)


def choices(html: str) -> set[str]:
    menu = re.search(r'<select name="CHANGE_FORM-action".*?</select>', html, re.S)
    return set(re.findall(r'value="(\w+)"', menu.group(0))) - {""} if menu else set()


def test_who_gets_which_commands_on_the_page(client: Client, vehicle: Vehicle) -> None:
    sends = {"send_lock", "send_unlock", "send_locate", "send_alarm", "send_set_speed_limit", "send_open_battery"}
    support = signed_in(Client(), member("support_agent"))
    technician = signed_in(Client(), member("field_technician"))
    manager = signed_in(Client(), member("fleet_manager"))
    assert support.get(page_url(vehicle)).status_code == 200
    assert choices(support.get(page_url(vehicle)).content.decode()) & sends == set()
    assert sends <= choices(technician.get(page_url(vehicle)).content.decode())
    assert sends <= choices(manager.get(page_url(vehicle)).content.decode())
    # A support agent's post of a command is refused like any action not offered: nothing is queued.
    support.post(page_url(vehicle), action(vehicle, "send_lock", confirm="yes", command_token="a" * 32))
    assert not Command.objects.filter(vehicle=vehicle).exists()


def test_a_command_from_the_page_is_confirmed_queued_once_and_its_ack_shows(
        client: Client, vehicle: Vehicle, settings: Any) -> None:
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"
    user = member("field_technician")
    technician = signed_in(client, user)
    confirm = technician.post(page_url(vehicle), action(vehicle, "send_lock"))
    html = confirm.content.decode()
    assert confirm.status_code == 200 and "Send <strong>lock</strong> to vehicle <strong>PG0001</strong>?" in html
    assert "refused while a vehicle is moving" in html and not Command.objects.filter(vehicle=vehicle).exists()
    token = token_of(html)
    confirmed = action(vehicle, "send_lock", confirm="yes", command_token=token)
    done = technician.post(page_url(vehicle), confirmed)
    assert done.status_code == 302 and done["Location"] == page_url(vehicle)
    technician.post(page_url(vehicle), confirmed)  # a second click on the same confirmation
    command = Command.objects.get(vehicle=vehicle)
    assert (command.kind, command.params, command.actor_id) == ("lock", {}, user.pk)
    page = technician.get(page_url(vehicle)).content.decode()
    assert "PG0001: lock is queued; the vehicle page&#x27;s commands panel" in page
    assert 'data-waiting="true"' in page  # the panel keeps itself up to date until the vehicle answers
    fleet_services.command_deliver(command_id=command.id)  # the vehicle answers (the silent gateway does not)
    fleet_services.command_ack(command_id=command.id, ok=True)
    panel = technician.get(f"/admin/fleet/vehicle/{vehicle.pk}/commands/").content.decode()
    assert 'class="fw-state fw-state-acked">Acked</span>' in panel and 'data-waiting="false"' in panel


def test_speed_limit_asks_for_a_valid_value_in_kmh(client: Client, vehicle: Vehicle) -> None:
    manager = signed_in(client, member("fleet_manager"))
    html = manager.post(page_url(vehicle), action(vehicle, "send_set_speed_limit")).content.decode()
    assert 'name="max_speed_kph"' in html and "Speed limit (km/h)" in html
    token = token_of(html)
    for bad in ("150", "-1", "fast", ""):
        refused = manager.post(page_url(vehicle), action(vehicle, "send_set_speed_limit", confirm="yes",
                                                         command_token=token, max_speed_kph=bad))
        assert refused.status_code == 200 and 'class="errorlist' in refused.content.decode()
    assert not Command.objects.filter(vehicle=vehicle).exists()
    manager.post(page_url(vehicle), action(vehicle, "send_set_speed_limit", confirm="yes", command_token=token,
                                           max_speed_kph="18"))
    command = Command.objects.get(vehicle=vehicle)
    assert (command.kind, command.params) == ("set_speed_limit", {"max_speed_kph": 18})
    panel = manager.get(f"/admin/fleet/vehicle/{vehicle.pk}/commands/").content.decode()
    assert "Set Speed Limit 18 km/h" in panel


def test_a_refused_command_is_reported_not_queued(client: Client, vehicle: Vehicle) -> None:
    Vehicle.objects.filter(pk=vehicle.pk).update(speed_kph=20)  # moving: a lock must not reach it
    technician = signed_in(client, member("field_technician"))
    page = technician.post(page_url(vehicle), action(vehicle, "send_lock", confirm="yes", command_token="b" * 32),
                           follow=True).content.decode()
    assert "PG0001: The vehicle is moving" in page and not Command.objects.filter(vehicle=vehicle).exists()


def test_speed_limit_for_many_vehicles_from_the_list(client: Client, vehicle: Vehicle) -> None:
    second = VehicleFactory.create(city=vehicle.city)
    manager = signed_in(client, member("fleet_manager"))
    chosen = {"action": "send_set_speed_limit", "index": "0", "_selected_action": [str(vehicle.pk), str(second.pk)]}
    html = manager.post("/admin/fleet/vehicle/", chosen).content.decode()
    assert "these 2 vehicles" in html
    manager.post("/admin/fleet/vehicle/", {**chosen, "confirm": "yes", "command_token": "c" * 32, "max_speed_kph": "15"})
    assert sorted(Command.objects.values_list("params__max_speed_kph", flat=True)) == [15, 15]


def test_the_commands_panel_needs_the_vehicle_view_permission(client: Client, vehicle: Vehicle) -> None:
    outsider = UserFactory.create(is_staff=True)  # staff without any fleet permission
    assert signed_in(client, outsider).get(f"/admin/fleet/vehicle/{vehicle.pk}/commands/").status_code == 403
    assert signed_in(Client(), member("support_agent")).get(
        f"/admin/fleet/vehicle/{vehicle.pk}/commands/").status_code == 200


def test_times_on_the_page_are_the_citys_even_for_a_staff_member_elsewhere(
        client: Client, manager: User, vehicle: Vehicle) -> None:
    at = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 9:30 in Berlin, 3:30 in New York
    Vehicle.objects.filter(pk=vehicle.pk).update(position_at=at)
    manager.time_zone = "America/New_York"
    manager.save(update_fields=["time_zone"])
    client = signed_in(client, manager)
    page = client.get(page_url(vehicle)).content.decode()
    assert "Times in Europe/Berlin, this city's zone" in page and "9:30 a.m." in page
    listing = client.get("/admin/fleet/vehicle/").content.decode()
    assert "Times in America/New_York" in listing and "3:30 a.m." in listing
