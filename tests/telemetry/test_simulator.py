"""The fleet simulator: plausible paths, valid messages, commands answered, end to end over MQTT and HTTP."""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.gateway import OutboundCommand
from telemetry import mqtt, simulator, streams, validation
from telemetry.simulator import provision
from telemetry.simulator.streets import EARTH_M_PER_DEG, StreetGrid, Walker
from telemetry.simulator.vehicles import Behaviour, SimVehicle, answer, step
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.telemetry.mqtt_helpers import drain, unique_prefix
from tests.telemetry.test_mqtt import stream_rows

GRID = StreetGrid(52.52, 13.405, radius_m=1000, spacing_m=100)


def _sim_vehicle(code: str = "SIM001", **fields: Any) -> SimVehicle:
    return SimVehicle(id=uuid.uuid4(), code=code, secret="s", walker=Walker((0, 0), (1, 0)), seq=100, **fields)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot((a[0] - b[0]) * EARTH_M_PER_DEG, (a[1] - b[1]) * EARTH_M_PER_DEG * math.cos(math.radians(a[0])))


def test_grid_round_trips_and_walkers_stay_on_it() -> None:
    rng = random.Random(1)
    assert GRID.nearest(*GRID.position((3, -4))) == (3, -4)
    walker = Walker((0, 0), (1, 0))
    for _ in range(2000):
        walker.advance(GRID, rng.uniform(0, 60), rng)
        assert max(map(abs, walker.node + walker.target)) <= GRID.half
        assert abs(walker.node[0] - walker.target[0]) + abs(walker.node[1] - walker.target[1]) == 1  # one street
    assert _metres(GRID.position((0, 0)), GRID.position((1, 0))) == pytest.approx(100, rel=0.01)


def test_messages_are_valid_and_riders_move_at_street_speed() -> None:
    rng, behaviour = random.Random(7), Behaviour(moving_share=1.0, alarm_rate=0.2)
    vehicle = _sim_vehicle(riding=True, locked=False)
    now = time.time()
    previous = vehicle.walker.position(GRID)
    alarms = 0
    for i in range(1, 301):
        message = step(vehicle, GRID, behaviour, rng, now + i)
        row = validation.validate(message, now_ms=int((now + i) * 1000), max_age_ms=60_000, max_future_ms=1000)
        assert row[0] == 100 + i
        alarms += bool(message.get("alarms"))
        position = (message["lat"], message["lon"])
        if message["speed_kph"]:
            assert _metres(previous, position) <= message["speed_kph"] / 3.6 * 1.01 + 0.5
        previous = position
    assert 30 < alarms < 100
    assert vehicle.odometer_m > 1000 and vehicle.battery < 90


def test_commands_are_carried_out_and_acknowledged_unless_expired() -> None:
    vehicle, now = _sim_vehicle(), time.time()
    correlation = uuid.uuid4()
    later = (timezone.now() + timedelta(seconds=30)).isoformat()
    ack = answer(vehicle, {"correlation_id": str(correlation), "kind": "unlock", "params": {}, "expires_at": later}, now)
    assert ack is not None and ack["ack"] == {"correlation_id": str(correlation), "ok": True, "reason": ""}
    assert (vehicle.riding, vehicle.locked, vehicle.remote) == (True, False, True)
    validation.validate(ack, now_ms=int(now * 1000), max_age_ms=60_000, max_future_ms=1000)
    limit = {"correlation_id": str(uuid.uuid4()), "kind": "set_speed_limit", "params": {"max_speed_kph": 0},
             "expires_at": later}
    assert answer(vehicle, limit, now) is not None
    assert step(vehicle, GRID, Behaviour(), random.Random(1), now + 5)["speed_kph"] == 0
    expired = {"correlation_id": str(uuid.uuid4()), "kind": "lock", "expires_at": timezone.now().isoformat()}
    assert answer(vehicle, expired, now + 1) is None
    assert vehicle.riding


@pytest.mark.django_db
def test_the_simulator_needs_the_vehicles_secrets() -> None:
    VehicleFactory.create(city=CityFactory.create(slug="berlin"))
    with pytest.raises(CommandError, match="--rotate-credentials"):
        call_command("simulate_fleet", "--vehicles", "1", "--duration", "0.1")


@pytest.fixture
def prefix(settings: Any) -> Iterator[str]:
    value = unique_prefix()
    settings.MQTT_TOPIC_PREFIX = value
    settings.TELEMETRY_STREAM_PREFIX = value.rstrip("/")
    yield value
    keys = list(streams.client().scan_iter(match=f"{settings.TELEMETRY_STREAM_PREFIX}:*"))
    if keys:
        streams.client().delete(*keys)


@pytest.mark.django_db
def test_over_mqtt_every_message_is_accepted_and_commands_are_answered(prefix: str) -> None:
    city = CityFactory.create(slug="simcity")
    cars = [VehicleFactory.create(city=city, lat=52.52 + i * 0.001, lon=13.40) for i in range(10)]
    vehicles, grid = provision.vehicles_for(city_slug="simcity", count=10, rotate=True, seed=3)
    bridge = mqtt.Bridge(client_id=f"test-bridge-{uuid.uuid4().hex[:8]}", clean_session=True, auth_cache_s=0)
    bridge.start()
    assert bridge.subscribed.wait(5)
    transport = simulator.MqttTransport(clients=2)
    try:
        sim = simulator.Simulator(vehicles, grid, transport, rate=200, seed=3)
        sim.run(stop=threading.Event(), duration=0.5)
        sent = sim.stats["sent"]
        assert sent >= 50
        assert drain(bridge, until=sent)["accepted"] == sent
        # A command published by the gateway reaches the simulated unit, which acknowledges on its ack topic.
        correlation = uuid.uuid4()
        mqtt.MqttGateway().send(OutboundCommand(uuid.uuid4(), correlation, cars[0].id, cars[0].imei, "unlock",
                                                timezone.now() + timedelta(seconds=30)))
        deadline = time.monotonic() + 5
        while not sim.answer_commands() and time.monotonic() < deadline:
            time.sleep(0.05)
        transport.flush()
        assert drain(bridge, until=1)["accepted"] == 1
    finally:
        transport.close()
        bridge.client.disconnect()
        bridge.client.loop_stop()
    acks = [row[11] for row in stream_rows(cars[0].id) if row[11]]
    assert [uuid.UUID(bytes=a[0]) for a in acks] == [correlation]
    total = sum(len(stream_rows(car.id)) for car in cars)
    assert total == sent + 1


@pytest.mark.django_db(transaction=True)
def test_over_http_batches_are_accepted(live_server: Any, prefix: str) -> None:
    city = CityFactory.create(slug="httpcity")
    for i in range(4):
        VehicleFactory.create(city=city, lat=52.52, lon=13.40 + i * 0.001)
    vehicles, grid = provision.vehicles_for(city_slug="httpcity", count=4, rotate=True)
    transport = simulator.HttpTransport(base_url=live_server.url, batch=5, workers=2)
    try:
        sim = simulator.Simulator(vehicles, grid, transport, rate=100)
        sim.tick(42)
        transport.flush()
    finally:
        transport.close()
    assert transport.stats["messages"] == 42 and transport.stats["rejected"] == 0
    assert sum(len(stream_rows(v.id)) for v in vehicles) == 42
    assert json.dumps(dict(transport.stats))  # printable summary


@pytest.mark.django_db
def test_the_command_runs_for_its_duration_and_reports(prefix: str, capsys: Any) -> None:
    city = CityFactory.create(slug="cmdcity")
    for _ in range(3):
        VehicleFactory.create(city=city)
    call_command("simulate_fleet", "--city", "cmdcity", "--vehicles", "3", "--rate", "40", "--duration", "0.5",
                 "--rotate-credentials", "--clients", "1")
    out = capsys.readouterr().out
    assert "3 vehicles of cmdcity" in out
    sent = int(re.search(r"simulate_fleet: (\d+) messages in 0\.\d s", out).group(1))  # type: ignore[union-attr]
    assert 15 <= sent <= 21


@pytest.mark.django_db
def test_with_wait_a_missing_city_is_waited_for_until_stopped() -> None:
    from telemetry.management.commands.simulate_fleet import Command

    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    options = {"city": "nowhere", "vehicles": 1, "secrets": None, "rotate_credentials": True, "seed": None,
               "via": "mqtt", "clients": 1, "qos": 1, "wait": True}
    assert Command()._start(options, stop) is None
    with pytest.raises(CommandError, match="no city 'nowhere'"):
        Command()._start(options | {"wait": False}, threading.Event())


@pytest.mark.django_db
def test_while_the_broker_is_waited_for_no_secret_is_rotated(settings: Any) -> None:
    """make run's simulator waits for a broker with --rotate-credentials: each retry rotated every vehicle's
    secret, so nothing else could send as the city's vehicles (simulate_fleet --via http got 401s)."""
    from telemetry.management.commands.simulate_fleet import Command

    city = CityFactory.create(slug="waitcity")
    vehicle = VehicleFactory.create(city=city)
    secret = fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    vehicle.refresh_from_db()
    before = (vehicle.secret_hash, vehicle.secret_rotated_at)
    settings.MQTT_URL = "mqtt://127.0.0.1:1"  # nothing listens there
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    options = {"city": "waitcity", "vehicles": 1, "secrets": None, "rotate_credentials": True, "seed": None,
               "via": "mqtt", "clients": 1, "qos": 1, "wait": True}
    assert Command()._start(options, stop) is None
    vehicle.refresh_from_db()
    assert (vehicle.secret_hash, vehicle.secret_rotated_at) == before
    assert fleet_selectors.vehicle_authenticate(vehicle.code, secret) is not None
