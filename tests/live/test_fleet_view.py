"""/ws/v1/fleet views: a map changes its box, filters and grid with a ``view`` message and gets a fresh snapshot
on the same socket; at low zoom the server counts vehicles per grid cell and sends only the cells that changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core import push
from live.consumers import fleet_view
from tests.fleet.factories import VehicleFactory, VehicleTypeFactory
from tests.live.conftest import nothing_more, opened, receive, run

pytestmark = pytest.mark.django_db(transaction=True)


def _position(vehicle, lat, lon, status="available", battery=80, at="2026-11-23T12:00:00+00:00"):
    return {"id": str(vehicle.id), "code": vehicle.code, "lat": lat, "lon": lon, "status": status,
            "battery_pct": battery, "at": at}


def test_a_view_message_moves_the_box_and_answers_with_a_snapshot_on_the_same_socket(city, scooter, fleet_staff):
    mitte = VehicleFactory.create(city=city, vehicle_type=scooter, code="MITTE1", lat=52.52, lon=13.40)
    VehicleFactory.create(city=city, vehicle_type=scooter, code="SPAND1", lat=52.53, lon=13.20)

    async def body() -> None:
        comm, first = await opened(f"/ws/v1/fleet?city={city.id}&bbox=13.1,52.4,13.3,52.6", fleet_staff)
        assert [v["code"] for v in first["data"]["vehicles"]] == ["SPAND1"]
        assert first["data"]["vehicles"][0]["type"] == scooter.code
        await comm.send_json_to({"type": "view", "bbox": [13.35, 52.45, 13.45, 52.55]})
        second = await receive(comm)
        assert (second["type"], second["seq"], second["data"]["mode"]) == ("snapshot", first["seq"] + 1, "vehicles")
        assert [v["code"] for v in second["data"]["vehicles"]] == ["MITTE1"]
        # Positions now follow the new box: the old box's vehicle is not sent, the new one is.
        await sync_to_async(push.fleet_positions)(city.id, [_position(mitte, 52.521, 13.401)])
        update = await receive(comm)
        assert [v["code"] for v in update["data"]["vehicles"]] == ["MITTE1"]
        await comm.send_json_to({"type": "view", "bbox": [13.45, 52.45, 13.35, 52.55]})  # min > max
        refused = await receive(comm)
        assert refused["type"] == "view.refused" and "bbox" in refused["data"]["error"]
        await comm.disconnect()

    run(body)


def test_filters_by_status_type_battery_and_last_seen_apply_to_snapshot_and_positions(city, scooter, fleet_staff):
    bike = VehicleTypeFactory.create(code="ebike-test")
    two_hours_ago = timezone.now() - timedelta(hours=2)
    low = VehicleFactory.create(city=city, vehicle_type=scooter, code="LOW001", lat=52.52, lon=13.40, battery_pct=10,
                                position_at=two_hours_ago)
    VehicleFactory.create(city=city, vehicle_type=scooter, code="FULL01", lat=52.52, lon=13.40, battery_pct=90,
                          position_at=None)
    VehicleFactory.create(city=city, vehicle_type=bike, code="BIKE01", lat=52.52, lon=13.40, battery_pct=15)

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/fleet?city={city.id}", fleet_staff)
        await comm.send_json_to({"type": "view", "filter": {"type": [scooter.code], "battery_below": 20}})
        snapshot = await receive(comm)
        assert [v["code"] for v in snapshot["data"]["vehicles"]] == ["LOW001"]
        # Charged past the threshold: it leaves the filtered view once.
        await sync_to_async(push.fleet_positions)(city.id, [_position(low, 52.52, 13.40, battery=50)])
        assert (await receive(comm))["data"]["vehicles"] == [{"id": str(low.id), "removed": True}]

        await comm.send_json_to({"type": "view", "filter": {"status": ["maintenance"]}})
        assert (await receive(comm))["data"]["vehicles"] == []
        await sync_to_async(push.fleet_positions)(city.id, [_position(low, 52.52, 13.40, status="maintenance")])
        assert [v["code"] for v in (await receive(comm))["data"]["vehicles"]] == ["LOW001"]

        # Last seen: only vehicles not heard of for an hour (or never): not the bike, seen just now.
        await comm.send_json_to({"type": "view", "filter": {"unseen_s": 3600}})
        unseen = await receive(comm)
        assert sorted(v["code"] for v in unseen["data"]["vehicles"]) == ["FULL01", "LOW001"]
        await sync_to_async(push.fleet_positions)(city.id, [_position(low, 52.52, 13.40, at="2999-01-01T00:00:00+00:00")])
        assert (await receive(comm))["data"]["vehicles"] == [{"id": str(low.id), "removed": True}]
        await comm.disconnect()

    run(body)


def test_at_low_zoom_the_socket_sends_grid_cells_and_only_the_cells_that_changed(city, scooter, fleet_staff):
    a = VehicleFactory.create_batch(3, city=city, vehicle_type=scooter, lat=52.501, lon=13.401, battery_pct=80)
    b = VehicleFactory.create(city=city, vehicle_type=scooter, lat=52.551, lon=13.451, battery_pct=10,
                              status="low_battery")

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/fleet?city={city.id}", fleet_staff)
        await comm.send_json_to({"type": "view", "bbox": [13.3, 52.4, 13.5, 52.6], "grid": 0.01, "max_vehicles": 2})
        snapshot = await receive(comm)
        data = snapshot["data"]
        assert (data["mode"], data["total"], data.get("vehicles")) == ("cells", 4, None)
        cells = {c["key"]: c for c in data["cells"]}
        assert sorted(c["n"] for c in cells.values()) == [1, 3]
        low_cell = next(c for c in cells.values() if c["n"] == 1)
        assert (low_cell["statuses"], low_cell["low_battery"], low_cell["battery_avg"]) == ({"low_battery": 1}, 1, 10)

        # One vehicle moves from the busy cell into the other: both cells change, nothing else is sent.
        await sync_to_async(push.fleet_positions)(city.id, [_position(a[0], 52.551, 13.451)])
        update = await receive(comm)
        assert update["type"] == "fleet.cells"
        changed = {c["key"]: c for c in update["data"]["cells"]}
        assert sorted(c["n"] for c in changed.values()) == [2, 2]
        moved = changed[low_cell["key"]]
        assert moved["statuses"] == {"low_battery": 1, "available": 1}
        assert moved["lat"] == pytest.approx(52.551)
        # A vehicle leaving the box empties its cell: n 0 tells the client to remove it.
        await sync_to_async(push.fleet_positions)(city.id, [_position(b, 48.0, 11.0), _position(a[0], 48.0, 11.0)])
        gone = await receive(comm, timeout=2)
        assert {c["key"]: c["n"] for c in gone["data"]["cells"]} == {low_cell["key"]: 0}
        assert await nothing_more(comm, 0.5)

        # Few enough vehicles in the view: single vehicles again, whatever the grid.
        await comm.send_json_to({"type": "view", "bbox": [13.3, 52.4, 13.5, 52.6], "grid": 0.01, "max_vehicles": 100})
        assert (await receive(comm))["data"]["mode"] == "vehicles"
        await comm.disconnect()

    run(body)


def test_view_validation():
    assert fleet_view.View.parse({"type": "view"}).bbox is None
    for bad in ({"grid": 5}, {"grid": True}, {"bbox": [1, 2, 3]}, {"filter": {"colour": "red"}},
                {"filter": {"battery_below": "20"}}, {"max_vehicles": 10 ** 6}, {"filter": {"status": [1]}}):
        with pytest.raises((ValueError, TypeError)):
            fleet_view.View.parse({"type": "view", **bad})


def test_a_map_connects_straight_into_its_view_and_a_bad_view_is_refused_at_the_handshake(city, scooter,
                                                                                         fleet_staff):
    from urllib.parse import quote

    from tests.live.conftest import bearer, communicator

    VehicleFactory.create_batch(5, city=city, vehicle_type=scooter, lat=52.501, lon=13.401)
    view = quote('{"grid": 0.01, "max_vehicles": 2, "filter": {"status": ["available"]}}')

    async def body() -> None:
        comm, snapshot = await opened(f"/ws/v1/fleet?city={city.id}&view={view}", fleet_staff)
        assert (snapshot["data"]["mode"], [c["n"] for c in snapshot["data"]["cells"]]) == ("cells", [5])
        await comm.disconnect()
        for bad in ("[1]", quote('{"grid": "x"}'), "not-json"):
            refused = communicator(f"/ws/v1/fleet?city={city.id}&view={bad}", bearer(fleet_staff))
            assert (await refused.connect())[0] is False, bad
            await refused.disconnect()

    run(body)
