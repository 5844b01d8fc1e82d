"""/ws/v1/fleet: staff with the fleet permission only; snapshot, coalesced positions, bbox, pass-through events."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from core import push
from tests.fleet.factories import VehicleFactory
from tests.live.conftest import bearer, close_of, communicator, nothing_more, opened, receive, run

pytestmark = pytest.mark.django_db(transaction=True)


def _position(vehicle, lat, lon, status="available"):
    return {"id": str(vehicle.id), "code": vehicle.code, "lat": lat, "lon": lon, "status": status,
            "battery_pct": 80, "at": "2026-11-23T12:00:00Z"}


def test_riders_and_unknown_cities_are_refused(city, rider, fleet_staff):
    async def body() -> None:
        for path, user in ((f"/ws/v1/fleet?city={city.id}", rider),
                           ("/ws/v1/fleet?city=00000000-0000-0000-0000-000000000000", fleet_staff),
                           ("/ws/v1/fleet", fleet_staff),
                           (f"/ws/v1/fleet?city={city.id}&bbox=1,2,3", fleet_staff)):
            comm = communicator(path, bearer(user))
            assert (await comm.connect())[0] is False, path
            await comm.disconnect()

    run(body)


def test_snapshot_of_the_box_then_one_coalesced_batch_per_interval(city, scooter, fleet_staff, settings):
    settings.LIVE_FLEET_INTERVAL_MS = 500
    inside = VehicleFactory.create(city=city, vehicle_type=scooter, code="IN0001", lat=52.52, lon=13.40)
    outside = VehicleFactory.create(city=city, vehicle_type=scooter, code="OUT001", lat=48.0, lon=11.0)
    bbox = "13.0,52.0,14.0,53.0"

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}&bbox={bbox}", bearer(fleet_staff))
        assert (await comm.connect())[0] is True
        snapshot = await receive(comm)
        assert [v["code"] for v in snapshot["data"]["vehicles"]] == ["IN0001"]

        # 20 positions of the same vehicle and one outside the box, pushed as telemetry batches would be.
        for i in range(20):
            await sync_to_async(push.fleet_positions)(city.id, [_position(inside, 52.52 + i / 1e4, 13.40),
                                                                _position(outside, 48.0, 11.0)])
        first = await receive(comm)
        assert first["type"] == "fleet.positions"
        assert [v["code"] for v in first["data"]["vehicles"]] == ["IN0001"]  # leading edge: the first at once
        second = await receive(comm, timeout=2)
        assert [v["lat"] for v in second["data"]["vehicles"]] == [pytest.approx(52.5219)]  # only the latest
        assert await nothing_more(comm, 0.8)

        # Leaving the box is told once; other fleet events pass at once.
        await sync_to_async(push.fleet_positions)(city.id, [_position(inside, 48.1, 11.0)])
        gone = await receive(comm, timeout=2)
        assert gone["data"]["vehicles"] == [{"id": str(inside.id), "removed": True}]
        await sync_to_async(push.to_fleet)(city.id, "vehicle.alarm", {"vehicle_id": inside.id, "kind": "tilt"})
        alarm = await receive(comm)
        assert (alarm["type"], alarm["data"]) == ("vehicle.alarm", {"vehicle_id": str(inside.id), "kind": "tilt"})
        await comm.disconnect()

    run(body)


def test_a_ride_push_does_not_reach_fleet_sockets_of_another_city(city, scooter, fleet_staff):
    from tests.fleet.factories import CityFactory

    other = CityFactory.create(slug="hamburg", name="Hamburg")

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}", bearer(fleet_staff))
        assert (await comm.connect())[0] is True
        await receive(comm)
        await sync_to_async(push.to_fleet)(other.id, "vehicle.alarm", {"kind": "tilt"})
        assert await nothing_more(comm, 0.5)
        await comm.disconnect()

    run(body)


def test_a_snapshot_bigger_than_the_send_buffer_does_not_drop_the_socket(city, scooter, fleet_staff, settings):
    settings.LIVE_SEND_BUFFER_KB = 16
    vehicles = VehicleFactory.create_batch(200, city=city, vehicle_type=scooter, lat=52.52, lon=13.40)

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}", bearer(fleet_staff))
        assert (await comm.connect())[0] is True
        snapshot = await receive(comm)
        assert len(snapshot["data"]["vehicles"]) == 200  # ~30 kB, more than the 16 kB buffer
        await sync_to_async(push.fleet_positions)(city.id, [_position(vehicles[0], 52.53, 13.41)])
        update = await receive(comm)
        assert update["type"] == "fleet.positions"
        await comm.disconnect()

    run(body)


def test_a_big_fleet_snapshot_comes_in_parts_that_add_up_to_the_fleet(city, scooter, fleet_staff, settings):
    """Daphne refuses a WebSocket message over 1 MiB (10,000 vehicles are ~1.4 MB): the snapshot is split."""
    settings.LIVE_SNAPSHOT_PART = 100
    vehicles = VehicleFactory.create_batch(250, city=city, vehicle_type=scooter, lat=52.52, lon=13.40)

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}", bearer(fleet_staff))
        assert (await comm.connect())[0] is True
        snapshot = await receive(comm)
        parts = [await receive(comm), await receive(comm)]
        assert (snapshot["type"], len(snapshot["data"]["vehicles"]), snapshot["data"]["more"]) == ("snapshot", 100, True)
        assert [(p["type"], len(p["data"]["vehicles"]), p["data"]["more"]) for p in parts] == [
            ("snapshot.part", 100, True), ("snapshot.part", 50, False)]
        assert [p["seq"] for p in parts] == [snapshot["seq"] + 1, snapshot["seq"] + 2]
        seen = {v["id"] for m in [snapshot, *parts] for v in m["data"]["vehicles"]}
        assert seen == {str(v.id) for v in vehicles}
        await sync_to_async(push.fleet_positions)(city.id, [_position(vehicles[0], 52.53, 13.41)])
        assert (await receive(comm))["type"] == "fleet.positions"
        await comm.disconnect()

    run(body)


def test_an_interval_of_many_positions_comes_in_messages_of_a_snapshot_part(city, scooter, fleet_staff, settings):
    """5,000 msgs/s over a 10k city coalesce to 1.2 MB a second, past Daphne's 1 MiB: the batch is split too."""
    settings.LIVE_SNAPSHOT_PART = 100
    settings.LIVE_FLEET_INTERVAL_MS = 300
    vehicles = VehicleFactory.create_batch(250, city=city, vehicle_type=scooter, lat=52.52, lon=13.40)

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/fleet?city={city.id}", fleet_staff)
        for _ in range(2):  # the snapshot's two parts
            await receive(comm)
        await sync_to_async(push.fleet_positions)(city.id, [_position(vehicles[0], 52.53, 13.41)])
        assert len((await receive(comm))["data"]["vehicles"]) == 1  # leading edge
        await sync_to_async(push.fleet_positions)(city.id, [_position(v, 52.54, 13.42) for v in vehicles])
        batches = [await receive(comm, timeout=2) for _ in range(3)]
        assert [(m["type"], len(m["data"]["vehicles"])) for m in batches] == [("fleet.positions", 100),
                                                                            ("fleet.positions", 100),
                                                                            ("fleet.positions", 50)]
        assert {v["id"] for m in batches for v in m["data"]["vehicles"]} == {str(v.id) for v in vehicles}
        assert await nothing_more(comm, 0.5)
        await comm.disconnect()

    run(body)


async def _drain(comm) -> list[dict]:
    """Every message already sent (pings included), without answering."""
    messages = []
    while not await comm.receive_nothing(timeout=0.1):
        messages.append(json.loads((await comm.receive_output())["text"]))
    return messages


def test_a_fleet_client_behind_gets_its_positions_held_then_the_latest_not_a_4008(city, scooter, fleet_staff,
                                                                                   settings):
    """A whole-city map that reads slowly: positions wait (coalescing on) instead of the socket being dropped."""
    settings.LIVE_SEND_BUFFER_KB = 16
    settings.LIVE_FLEET_INTERVAL_MS = 100
    vehicles = VehicleFactory.create_batch(150, city=city, vehicle_type=scooter, lat=52.52, lon=13.40)

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/fleet?city={city.id}", fleet_staff)  # the snapshot: not held against it
        # Ten intervals of every vehicle moving, ~20 kB each, with no pong: far past the 16 kB buffer.
        for step in range(10):
            await sync_to_async(push.fleet_positions)(
                city.id, [_position(v, 52.52 + step / 1e4, 13.40) for v in vehicles])
            await asyncio.sleep(0.15)
        sent = await _drain(comm)
        kinds = [m["type"] for m in sent]
        assert "fleet.positions" in kinds
        # The first interval went out; the rest is held while the client has not acknowledged it.
        assert sum(len(m["data"]["vehicles"]) for m in sent if m["type"] == "fleet.positions") == 150
        pings = [m for m in sent if m["type"] == "ping"]
        assert pings, "the server asks where the client is"
        assert await comm.receive_nothing(timeout=0.3)  # still open, nothing more until the client answers

        await comm.send_json_to({"type": "pong", "seq": pings[-1]["seq"]})
        caught_up = [m for m in await _drain(comm) if m["type"] == "fleet.positions"]
        latest = {v["id"]: v["lat"] for m in caught_up for v in m["data"]["vehicles"]}
        assert len(latest) == 150 and sum(len(m["data"]["vehicles"]) for m in caught_up) == 150  # one per vehicle
        assert sorted(latest.values()) == pytest.approx([52.52 + 9 / 1e4] * 150)  # the latest position of each
        await comm.disconnect()

    run(body)


def test_other_fleet_events_still_drop_a_client_that_does_not_read(city, scooter, fleet_staff, settings):
    settings.LIVE_SEND_BUFFER_KB = 16

    async def body() -> None:
        comm = communicator(f"/ws/v1/fleet?city={city.id}", bearer(fleet_staff))
        assert (await comm.connect())[0] is True
        await receive(comm)
        for i in range(600):  # ~60 B each: 36 kB of alarms, never acknowledged
            await sync_to_async(push.to_fleet)(city.id, "vehicle.alarm", {"kind": "tilt", "n": i})
        assert (await close_of(comm, 3))["code"] == 4008

    run(body)
