"""Issue 6 across its parts, over the real broker: a silent vehicle is marked lost by the liveness sweep; the
simulated unit speaks again over MQTT, the bridge queues it, the pipeline applies it and the vehicle is back; a
command sent through MqttGateway is answered by the simulated unit and closed by the pipeline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet import services as fleet_services
from fleet.models import CommandState, Vehicle
from fleet.states import Status
from telemetry import liveness, mqtt, pipeline, simulator
from telemetry.simulator import provision
from tests.fleet.factories import CityFactory, VehicleFactory, ZoneFactory
from tests.telemetry.mqtt_helpers import drain, unique_prefix

pytestmark = pytest.mark.django_db


@pytest.fixture
def bridge(settings: Any) -> Iterator[mqtt.Bridge]:
    settings.MQTT_TOPIC_PREFIX = unique_prefix()
    settings.VEHICLE_GATEWAY = "telemetry.mqtt.MqttGateway"
    instance = mqtt.Bridge(client_id=f"test-bridge-{uuid.uuid4().hex[:8]}", clean_session=True, auth_cache_s=0)
    instance.start()
    assert instance.subscribed.wait(5)
    yield instance
    instance.client.disconnect()
    instance.client.loop_stop()


def test_lost_vehicle_speaks_again_and_answers_a_command(bridge: mqtt.Bridge) -> None:
    city = CityFactory.create(slug="e2ecity")
    ZoneFactory.create(city=city)  # an operating area over the whole test region
    vehicle = VehicleFactory.create(city=city, last_seen_at=timezone.now() - timedelta(hours=1))
    assert liveness.liveness_sweep()["comms_lost"] == 1
    vehicles, grid = provision.vehicles_for(city_slug="e2ecity", count=1, rotate=True, seed=1)
    transport = simulator.MqttTransport(clients=1)
    try:
        sim = simulator.Simulator(vehicles, grid, transport, rate=100, seed=1)
        sim.tick(3)
        transport.flush()
        assert drain(bridge, until=3)["accepted"] == 3
        pipeline.drain_until_empty()
        vehicle.refresh_from_db()
        assert vehicle.status == Status.AVAILABLE  # comms_restored
        assert vehicle.last_seen_at is not None and vehicle.last_seen_at > timezone.now() - timedelta(minutes=1)

        command = fleet_services.command_queue(vehicle_id=vehicle.id, kind="locate")
        fleet_services.command_deliver(command_id=command.id)
        deadline = time.monotonic() + 5
        while not sim.answer_commands() and time.monotonic() < deadline:
            time.sleep(0.05)
        transport.flush()
        assert drain(bridge, until=1)["accepted"] == 1
        pipeline.drain_until_empty()
    finally:
        transport.close()
    command.refresh_from_db()
    assert command.state == CommandState.ACKED
    assert list(Vehicle.objects.get(id=vehicle.id).events.values_list("event_types", flat=True)) == [
        ["comms_restored"], ["comms_lost"]]
