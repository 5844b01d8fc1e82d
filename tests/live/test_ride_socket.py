"""/ws/v1/rides/<id> through channels' WebsocketCommunicator against the real ASGI stack and Redis layer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from core import push
from rides import services as ride_services
from tests.live.conftest import bearer, close_of, communicator, nothing_more, receive, run
from tests.live.helpers import active_ride

pytestmark = pytest.mark.django_db(transaction=True)


def test_anonymous_and_bad_tokens_are_refused_at_the_handshake(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        for headers in ([], [(b"authorization", b"Bearer not-a-jwt")], [(b"authorization", b"Basic abc")]):
            comm = communicator(f"/ws/v1/rides/{ride.id}", headers)
            connected, _ = await comm.connect()
            assert connected is False
            await comm.disconnect()

    run(body)


def test_someone_elses_ride_is_refused_like_a_missing_one(card_rider, other_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        for path in (f"/ws/v1/rides/{ride.id}", "/ws/v1/rides/00000000-0000-0000-0000-000000000000"):
            comm = communicator(path, bearer(other_rider))
            assert (await comm.connect())[0] is False
            await comm.disconnect()

    run(body)


def test_snapshot_then_telemetry_updates_with_running_cost(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    expected = ride_services.ride_fare(ride=ride, at=timezone.now()).total
    assert expected == Decimal("1.00")  # the unlock fee; the first minute starts with its first second

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        snapshot = await receive(comm)
        assert (snapshot["type"], snapshot["seq"], snapshot["resumed"]) == ("snapshot", 1, False)
        data = snapshot["data"]
        assert (data["ride_id"], data["state"], data["vehicle_code"]) == (str(ride.id), "active", vehicle.code)
        # What rides would charge if the ride ended now (the ride's locked tariff through the fare engine).
        assert data["running_cost"]["total"] == {"amount": str(expected), "currency": "EUR"}
        assert data["running_cost"]["per_minute"] == {"amount": "0.25", "currency": "EUR"}

        await sync_to_async(push.to_ride)(ride.id, "ride.updated", {
            "lat": 52.5, "lon": 13.4, "battery_pct": 77, "distance_m": 120, "at": "2026-11-23T12:00:00Z"})
        update = await receive(comm)
        assert (update["type"], update["seq"]) == ("ride.updated", 2)
        assert update["data"]["position"] == {"lat": 52.5, "lon": 13.4}
        assert (update["data"]["battery_pct"], update["data"]["distance_m"]) == (77, 120)
        assert update["data"]["running_cost"]["total"]["amount"] == str(expected)
        await comm.disconnect()

    run(body)


def test_telemetry_updates_are_coalesced_but_commands_and_the_end_are_not(card_rider, vehicle, settings):
    settings.LIVE_RIDE_INTERVAL_MS = 400
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        await receive(comm)
        for i in range(10):
            await sync_to_async(push.to_ride)(ride.id, "ride.updated", {"lat": 52.5 + i / 1000, "lon": 13.4})
        first = await receive(comm)
        assert first["data"]["position"]["lat"] == 52.5  # leading edge: the first one at once
        await sync_to_async(push.to_ride)(ride.id, "ride.command", {"kind": "lock", "outcome": "acked"})
        await sync_to_async(push.to_ride)(ride.id, "ride.ended", {"total": "1.25", "currency": "EUR"})
        # The pending position goes out before the command (order kept), then the command and the end at once.
        messages = [await receive(comm) for _ in range(3)]
        assert [m["type"] for m in messages] == ["ride.updated", "ride.command", "ride.ended"]
        assert messages[0]["data"]["position"]["lat"] == pytest.approx(52.509)
        assert messages[1]["data"] == {"kind": "lock", "outcome": "acked"}
        assert messages[2]["data"]["total"] == "1.25"
        ended = messages[2]["data"]["ride"]
        assert (ended["state"], ended["running_cost"]) == ("ended", None)
        assert ended["ended"]["fare_total"] == {"amount": "1.25", "currency": "EUR"}
        assert [m["seq"] for m in messages] == [3, 4, 5]
        assert await nothing_more(comm, 0.6)
        await comm.disconnect()

    run(body)


def test_the_interval_is_on_the_vehicles_clock_so_a_delivery_jitter_holds_nothing_back(card_rider, vehicle,
                                                                                         settings):
    """Readings 2 s apart on the vehicle that arrive 50 ms apart (a batch came late, the next one on time) go out
    at once; readings 100 ms apart on the vehicle are still coalesced."""
    settings.LIVE_RIDE_INTERVAL_MS = 1000
    ride = active_ride(card_rider, vehicle)

    def reading(i: int, seconds: float) -> dict[str, object]:
        return {"lat": 52.5 + i / 1000, "lon": 13.4, "at": f"2026-12-03T12:00:{seconds:06.3f}+00:00"}

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        await receive(comm)
        for i, seconds in enumerate((0.0, 2.0, 4.0)):
            await sync_to_async(push.to_ride)(ride.id, "ride.updated", reading(i, seconds))
            update = await receive(comm, timeout=0.5)  # far less than the 1 s interval
            assert update["data"]["position"]["lat"] == pytest.approx(52.5 + i / 1000)
        for i, seconds in ((3, 4.1), (4, 4.2)):  # the vehicle sends faster than the interval: held, latest wins
            await sync_to_async(push.to_ride)(ride.id, "ride.updated", reading(i, seconds))
        assert await nothing_more(comm, 0.5)
        held = await receive(comm, timeout=2)
        assert held["data"]["position"]["lat"] == pytest.approx(52.504)
        assert held["data"]["at"] == "2026-12-03T12:00:04.200+00:00"
        await comm.disconnect()

    run(body)


def test_state_change_from_the_rides_services_is_sent_at_once(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        await receive(comm)
        from rides import services

        await sync_to_async(services.ride_pause)(ride_id=ride.id, rider=card_rider)
        update = await receive(comm)
        assert update["type"] == "ride.updated"
        assert update["data"]["state"] == "paused"
        await comm.disconnect()

    run(body)


def test_resume_with_last_seq_continues_the_sequence_with_a_fresh_snapshot(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}?last_seq=41", bearer(card_rider))
        assert (await comm.connect())[0] is True
        snapshot = await receive(comm)
        assert (snapshot["type"], snapshot["seq"], snapshot["resumed"]) == ("snapshot", 42, True)
        assert snapshot["data"]["state"] == "active"
        await comm.disconnect()

    run(body)


def test_expired_token_closes_the_socket_with_4001(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider, seconds=2))
        assert (await comm.connect())[0] is True
        await receive(comm)
        closed = await close_of(comm, 5)
        assert closed["code"] == 4001

    run(body)


def test_a_fresh_token_sent_on_the_socket_extends_it(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    from tests.live.conftest import token

    fresh = token(card_rider)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider, seconds=2))
        assert (await comm.connect())[0] is True
        await receive(comm)
        await comm.send_json_to({"type": "auth", "token": fresh})
        assert (await receive(comm))["type"] == "auth.ok"
        assert await nothing_more(comm, 2.5)  # past the first token's expiry, still open
        await comm.disconnect()

    run(body)


def test_a_client_that_does_not_read_is_dropped_with_4008(card_rider, vehicle, settings):
    settings.LIVE_SEND_BUFFER_KB = 16
    settings.LIVE_RIDE_INTERVAL_MS = 0
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        for i in range(200):  # ~200 B each: 40 kB, never acknowledged with a pong
            await sync_to_async(push.to_ride)(ride.id, "ride.updated", {"lat": 52.5 + i / 1e5, "lon": 13.4})
        closed = await close_of(comm, 5)
        assert closed["code"] == 4008

    run(body)


def test_a_client_that_answers_pings_keeps_its_socket(card_rider, vehicle, settings):
    settings.LIVE_SEND_BUFFER_KB = 16
    settings.LIVE_RIDE_INTERVAL_MS = 0
    ride = active_ride(card_rider, vehicle)

    async def body() -> None:
        comm = communicator(f"/ws/v1/rides/{ride.id}", bearer(card_rider))
        assert (await comm.connect())[0] is True
        received = 0
        for i in range(200):
            await sync_to_async(push.to_ride)(ride.id, "ride.updated", {"lat": 52.5 + i / 1e5, "lon": 13.4})
            while not await comm.receive_nothing(timeout=0.05):  # read what is there, answering pings
                output = await comm.receive_output()
                assert output["type"] == "websocket.send", output
                message = json.loads(output["text"])
                if message["type"] == "ping":
                    await comm.send_json_to({"type": "pong", "seq": message["seq"]})
                elif message["type"] == "ride.updated":
                    received += 1
        assert received > 150
        await comm.disconnect()

    run(body)
