"""The ops admin: vehicle filters and search, bulk actions through the services, event log, zones with map."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fleet.models import Command, Vehicle, VehicleEvent, Zone
from fleet.states import Status
from tests.fleet.factories import VehicleFactory, ZoneFactory, square

VEHICLES = "/admin/fleet/vehicle/"
ZONES = "/admin/fleet/zone/"


@pytest.fixture
def ops(client: Client, staff: Any) -> Client:
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_vehicle_list_filters_and_search(ops: Client) -> None:
    low = VehicleFactory.create(code="LOW001", battery_pct=8)
    stale = VehicleFactory.create(code="OLD001", position_at=timezone.now() - timedelta(days=2))
    fresh = VehicleFactory.create(code="NEW001", imei="351234567890123")
    page = ops.get(VEHICLES, {"battery_below": "10"}).content.decode()
    assert low.code in page and fresh.code not in page
    page = ops.get(VEHICLES, {"last_seen_older_than": "1d"}).content.decode()
    assert stale.code in page and fresh.code not in page
    page = ops.get(VEHICLES, {"q": "351234567890123"}).content.decode()
    assert fresh.code in page and low.code not in page
    assert ops.get(VEHICLES, {"status__exact": "available", "city__id__exact": str(low.city_id)}).status_code == 200


@pytest.mark.django_db
def test_bulk_set_maintenance_and_retire_go_through_the_services(ops: Client) -> None:
    a, b = VehicleFactory.create(), VehicleFactory.create(status=Status.ON_TRIP)
    r = ops.post(VEHICLES, {"action": "set_maintenance", "_selected_action": [str(a.id), str(b.id)]}, follow=True)
    page = r.content.decode()
    assert "Set to maintenance: 1 vehicle(s)" in page and f"{b.code}: A vehicle that is on_trip" in page
    assert Vehicle.objects.get(id=a.id).status == Status.MAINTENANCE
    assert Vehicle.objects.get(id=b.id).status == Status.ON_TRIP
    ops.post(VEHICLES, {"action": "retire", "_selected_action": [str(a.id)]})
    assert Vehicle.objects.get(id=a.id).status == Status.RETIRED
    assert list(VehicleEvent.objects.filter(vehicle=a).order_by("recorded_at").values_list("event_types", flat=True)) \
        == [["maintenance"], ["decommissioned"]]


@pytest.mark.django_db
def test_bulk_command_and_credential_rotation(ops: Client) -> None:
    vehicle = VehicleFactory.create()
    chosen = {"action": "send_locate", "index": "0", "_selected_action": [str(vehicle.id)]}
    page = ops.post(VEHICLES, chosen).content.decode()  # a confirmation page first
    assert "Send <strong>ring / locate</strong> to vehicle" in page and not Command.objects.filter(vehicle=vehicle)
    ops.post(VEHICLES, {**chosen, "confirm": "yes", "command_token": "a" * 32})
    assert Command.objects.get(vehicle=vehicle).kind == "locate"
    page = ops.post(VEHICLES, {"action": "rotate_credential", "_selected_action": [str(vehicle.id)]},
                    follow=True).content.decode()
    assert "new secret" in page and Vehicle.objects.get(id=vehicle.id).secret_hash


@pytest.mark.django_db
def test_vehicle_page_shows_its_event_log_read_only(ops: Client) -> None:
    from fleet import services

    vehicle = VehicleFactory.create()
    services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"])
    page = ops.get(f"{VEHICLES}{vehicle.id}/change/").content.decode()
    assert "battery_low" in page and "non_operational" in page
    assert 'name="status"' not in page  # status changes only through actions
    history = ops.get("/admin/fleet/vehicleevent/", {"vehicle__id__exact": str(vehicle.id)})
    assert history.status_code == 200 and "battery_low" in history.content.decode()
    assert ops.get("/admin/fleet/command/", {"q": vehicle.code}).status_code == 200


@pytest.mark.django_db
def test_vehicle_page_shows_only_the_newest_events(ops: Client) -> None:
    from console.vehicle_page import EVENT_ROWS
    from fleet import services

    vehicle = VehicleFactory.create()
    for _ in range(EVENT_ROWS // 2 + 1):
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_low"])
        services.vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_charged"])
    page = ops.get(f"{VEHICLES}{vehicle.id}/change/").content.decode()
    log = page[page.index('id="vehicle-events-title"'):]
    assert log.count("<td>battery_low</td>") + log.count("<td>battery_charged</td>") == EVENT_ROWS


@pytest.mark.django_db
def test_zone_admin_refuses_invalid_geometry_with_the_validator_message(ops: Client, city: Any) -> None:
    form = {"city": str(city.id), "name": "Bad", "kind": "no_ride", "priority": 5, "active": "on",
            "ride_start_allowed": "True", "ride_end_allowed": "", "ride_through_allowed": "",
            "station_parking": "unknown",
            "geometry": json.dumps({"type": "Polygon", "coordinates": [[[13, 52], [14, 52], [14, 53], [13, 52.5]]]})}
    r = ops.post(f"{ZONES}add/", form)
    assert r.status_code == 200 and "ring is not closed" in r.content.decode()
    assert not Zone.objects.exists()
    form["geometry"] = json.dumps(square(13.3, 52.5, 0.01))
    r = ops.post(f"{ZONES}add/", form)
    assert r.status_code == 302
    zone = Zone.objects.get()
    # start explicitly allowed; end and through left to the no_ride default (refused)
    assert (zone.ride_start_allowed, zone.ride_end_allowed, zone.ride_through_allowed) == (True, False, False)
    page = ops.get(f"{ZONES}{zone.id}/change/").content.decode()
    assert 'id="zone-map"' in page and 'id="zone-map-data"' in page


@pytest.mark.django_db
def test_zone_admin_slow_zone_needs_speed(ops: Client, city: Any) -> None:
    ZoneFactory.create(city=city)
    form = {"city": str(city.id), "name": "Slow", "kind": "slow", "priority": 5, "station_parking": "unknown",
            "geometry": json.dumps(square(13.3, 52.5, 0.01))}
    r = ops.post(f"{ZONES}add/", form)
    assert "A slow zone needs a maximum speed." in r.content.decode()
