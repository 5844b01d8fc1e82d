"""The MQTT bridge and command gateway against the real Mosquitto broker (MQTT_URL) and Redis streams."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.utils import timezone

from config import env
from fleet import services as fleet_services
from fleet.models import CommandState
from telemetry import mqtt, streams
from tests.fleet.factories import VehicleFactory
from tests.telemetry import mqtt_helpers
from tests.telemetry.mqtt_helpers import Listener, drain, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def prefix(settings: Any) -> Iterator[str]:
    """A topic and stream prefix of this test's own (the broker and Redis are shared)."""
    value = mqtt_helpers.unique_prefix()
    settings.MQTT_TOPIC_PREFIX = value
    settings.TELEMETRY_STREAM_PREFIX = value.rstrip("/")
    yield value
    client = streams.client()
    keys = list(client.scan_iter(match=f"{settings.TELEMETRY_STREAM_PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def bridge(prefix: str) -> Iterator[mqtt.Bridge]:
    instance = mqtt.Bridge(client_id=f"test-bridge-{uuid.uuid4().hex[:8]}", clean_session=True, auth_cache_s=0,
                           batch_wait_ms=5)
    instance.start()
    assert instance.subscribed.wait(5)
    yield instance
    instance.client.disconnect()
    instance.client.loop_stop()


@pytest.fixture
def pub() -> Iterator[Any]:
    client = mqtt_helpers.publisher()
    yield client
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def vehicle() -> Any:
    return VehicleFactory.create(code="MQ0001")


@pytest.fixture
def secret(vehicle: Any) -> str:
    return fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)


def _now_ms() -> int:
    return int(time.time() * 1000)


def stream_rows(vehicle_id: uuid.UUID) -> list[list[Any]]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = streams.client().xrange(  # type: ignore[assignment]
        streams.stream_key(streams.shard_of(vehicle_id)))
    rows = []
    for _, fields in entries:
        packed_id, _, entry_rows = msgpack.unpackb(fields[streams.FIELD], raw=False)
        if uuid.UUID(bytes=packed_id) == vehicle_id:  # a shard carries several vehicles
            rows.extend(entry_rows)
    return rows


def test_telemetry_and_ack_reach_the_vehicles_stream(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any,
                                                    secret: str) -> None:
    correlation = uuid.uuid4()
    batch = {"secret": secret, "messages": [
        {"seq": 1, "ts": _now_ms(), "lat": 52.52, "lon": 13.40, "battery_pct": 80, "locked": True},
        {"seq": 2, "ts": _now_ms(), "lat": 52.5201, "lon": 13.4001, "alarms": ["tipped_over"]},
    ]}
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps(batch))
    # One message, the envelope is the message; MessagePack; addressed by the vehicle's UUID.
    single = {"secret": secret, "seq": 3, "ts": _now_ms(), "ack": {"correlation_id": str(correlation), "ok": True}}
    publish(pub, f"{prefix}vehicles/{vehicle.id}/ack", msgpack.packb(single))
    totals = drain(bridge, until=2)
    assert (totals["mqtt_messages"], totals["accepted"]) == (2, 3)
    rows = sorted(stream_rows(vehicle.id))
    assert [row[0] for row in rows] == [1, 2, 3]
    assert rows[0][2:4] == [52.52, 13.40]
    assert rows[1][10] == ["tipped_over"]
    assert rows[2][11][:2] == [correlation.bytes, True]


def test_wrong_secret_is_refused_and_told(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any,
                                          secret: str) -> None:
    errors = Listener(f"{prefix}vehicles/MQ0001/errors")
    try:
        publish(pub, f"{prefix}vehicles/MQ0001/telemetry",
                json.dumps({"secret": "not-" + secret, "seq": 1, "ts": _now_ms()}))
        assert drain(bridge, until=1)["auth_failed"] == 1
        _, body = errors.get()
        assert json.loads(body)["code"] == "vehicle_auth_failed"
    finally:
        errors.close()
    assert stream_rows(vehicle.id) == []
    assert streams.client().hget(streams.key("rejected"), "auth_failed") == b"1"


def test_a_vehicle_cannot_publish_as_another(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any,
                                             secret: str) -> None:
    other = VehicleFactory.create(code="MQ0002")
    publish(pub, f"{prefix}vehicles/MQ0002/telemetry", json.dumps({"secret": secret, "seq": 1, "ts": _now_ms()}))
    assert drain(bridge, until=1)["auth_failed"] == 1
    assert stream_rows(other.id) == stream_rows(vehicle.id) == []


def test_rotated_secret_stops_working(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any, secret: str) -> None:
    new_secret = fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    cache.clear()  # the rotation drops the cache on commit; this test runs in a transaction
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": secret, "seq": 1, "ts": _now_ms()}))
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": new_secret, "seq": 2, "ts": _now_ms()}))
    totals = drain(bridge, until=2)
    assert (totals["auth_failed"], totals["accepted"]) == (1, 1)
    assert [row[0] for row in stream_rows(vehicle.id)] == [2]


def test_invalid_messages_are_reported_by_seq_and_the_good_ones_kept(bridge: mqtt.Bridge, pub: Any, prefix: str,
                                                                      vehicle: Any, secret: str) -> None:
    errors = Listener(f"{prefix}vehicles/MQ0001/errors")
    try:
        batch = {"secret": secret, "messages": [
            {"seq": 10, "ts": _now_ms(), "lat": 52.5, "lon": 13.4},
            {"seq": 11, "ts": _now_ms(), "lat": 200.0, "lon": 13.4},
            {"seq": 12, "ts": _now_ms() + 3_600_000},
        ]}
        publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps(batch))
        totals = drain(bridge, until=1)
        assert (totals["accepted"], totals["rejected"]) == (1, 2)
        _, body = errors.get()
    finally:
        errors.close()
    report = json.loads(body)
    assert report["code"] == "validation_failed"
    assert [(e["seq"], e["code"]) for e in report["errors"]] == [(11, "out_of_range"), (12, "ts_in_future")]
    assert [row[0] for row in stream_rows(vehicle.id)] == [10]


def test_unreadable_payload_is_refused(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any) -> None:
    errors = Listener(f"{prefix}vehicles/MQ0001/errors")
    try:
        publish(pub, f"{prefix}vehicles/MQ0001/telemetry", b"{not json")
        assert drain(bridge, until=1)["malformed_request"] == 1
        assert json.loads(errors.get()[1])["code"] == "malformed_request"
    finally:
        errors.close()


def test_many_messages_of_many_vehicles_are_merged_per_vehicle(bridge: mqtt.Bridge, pub: Any, prefix: str) -> None:
    vehicles = [VehicleFactory.create() for _ in range(5)]
    secrets = {v.code: fleet_services.vehicle_credential_rotate(vehicle_id=v.id) for v in vehicles}
    for seq in range(20):
        for v in vehicles:
            pub.publish(f"{prefix}vehicles/{v.code}/telemetry",
                        json.dumps({"secret": secrets[v.code], "seq": seq, "ts": _now_ms()}), qos=1)
    totals = drain(bridge, until=100)
    assert (totals["mqtt_messages"], totals["accepted"]) == (100, 100)
    for v in vehicles:
        assert sorted(row[0] for row in stream_rows(v.id)) == list(range(20))


def test_gateway_publishes_the_command_to_the_vehicle(settings: Any, prefix: str, vehicle: Any) -> None:
    settings.VEHICLE_GATEWAY = "telemetry.mqtt.MqttGateway"
    commands = Listener(f"{prefix}vehicles/+/commands")
    try:
        command = fleet_services.command_queue(vehicle_id=vehicle.id, kind="unlock")
        fleet_services.command_deliver(command_id=command.id)
        topic, body = commands.get()
    finally:
        commands.close()
    assert topic == f"{prefix}vehicles/MQ0001/commands"
    payload = json.loads(body)
    command.refresh_from_db()
    assert command.state == CommandState.SENT
    assert payload == {"command_id": str(command.id), "correlation_id": str(command.correlation_id),
                       "kind": "unlock", "params": {}, "expires_at": command.expires_at.isoformat()}


def test_gateway_down_is_a_transient_error(settings: Any, vehicle: Any, monkeypatch: Any) -> None:
    from fleet.gateway import GatewayError, OutboundCommand

    settings.MQTT_URL = "mqtt://127.0.0.1:1"  # nothing listens there
    monkeypatch.setattr(mqtt.MqttGateway, "_client", None)
    monkeypatch.setattr(mqtt.MqttGateway, "connect_timeout", 0.5)
    message = OutboundCommand(uuid.uuid4(), uuid.uuid4(), vehicle.id, vehicle.imei, "lock", timezone.now())
    with pytest.raises(GatewayError):
        mqtt.MqttGateway().send(message)


@pytest.mark.slow
def test_the_command_stops_cleanly_on_sigterm(prefix: str, vehicle: Any, secret: str, pub: Any) -> None:
    environ = dict(os.environ, MQTT_TOPIC_PREFIX=prefix, TELEMETRY_STREAM_PREFIX=prefix.rstrip("/"),
                   DATABASE_URL=env.database_url(django_settings.DATABASES["default"]))
    process = subprocess.Popen([sys.executable, "manage.py", "telemetry_mqtt", "--clean-session",
                                "--client-id", f"test-cmd-{uuid.uuid4().hex[:8]}"],
                               cwd=django_settings.BASE_DIR, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": "x", "seq": 1, "ts": 1}))
            if streams.client().hget(streams.key("rejected"), "auth_failed"):
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output.decode()
    assert b"stopped" in output


def test_bridge_counters_are_shared_in_redis(bridge: mqtt.Bridge, pub: Any, prefix: str, vehicle: Any,
                                             secret: str) -> None:
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": secret, "seq": 1, "ts": _now_ms()}))
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": "bad", "seq": 2, "ts": _now_ms()}))
    drain(bridge, until=2)
    stats = mqtt.bridge_stats()
    assert (stats["mqtt_messages"], stats["accepted"], stats["auth_failed"]) == (2, 1, 1)
    assert stats["last_batch_at"] == pytest.approx(time.time(), abs=10)


def _redis_state(prefix: str) -> tuple[list[bytes], dict[bytes, bytes], dict[bytes, bytes]]:
    client = streams.client()
    entries = []
    for key in sorted(client.scan_iter(match=f"{prefix}:s:*")):
        entries += [fields[streams.FIELD] for _, fields in client.xrange(key)]  # type: ignore[union-attr,index]
    return entries, client.hgetall(f"{prefix}:rejected"), client.hgetall(f"{prefix}:stats")  # type: ignore[return-value]


def test_ingest_many_is_ingest_for_many_vehicles_in_one_round_trip(settings: Any) -> None:
    """The bridge's batched ingest must queue and count exactly what telemetry.ingest.ingest does."""
    from telemetry import ingest

    now = _now_ms()
    batch: list[tuple[uuid.UUID, list[object], float]] = [
        (uuid.uuid4(), [{"seq": 1, "ts": now, "lat": 52.5, "lon": 13.4, "alarms": ["tamper"]}, {"seq": 2}], now / 1000),
        (uuid.uuid4(), [{"seq": 5, "ts": now, "speed_kph": 900}, "nonsense"], now / 1000),
        (uuid.uuid4(), [{"seq": 7, "ts": now - 1000, "battery_pct": 50, "locked": True,
                         "ack": {"correlation_id": str(uuid.uuid4()), "ok": False, "reason": "moving"}}], now / 1000),
    ]
    states, results = [], []
    for name, run in (("one", lambda: [ingest.ingest(v, p, received_at=datetime.fromtimestamp(t, UTC))
                                       for v, p, t in batch]),
                      ("many", lambda: mqtt.ingest_many(batch))):
        settings.TELEMETRY_STREAM_PREFIX = f"test-{name}-{uuid.uuid4().hex[:8]}"
        try:
            results.append([(r.accepted, r.errors) for r in run()])
            states.append(_redis_state(settings.TELEMETRY_STREAM_PREFIX))
        finally:
            keys = list(streams.client().scan_iter(match=f"{settings.TELEMETRY_STREAM_PREFIX}:*"))
            if keys:
                streams.client().delete(*keys)
    assert results[0] == results[1] and [accepted for accepted, _ in results[0]] == [1, 0, 1]
    assert states[0] == states[1] and len(states[0][0]) == 2


def test_a_batch_is_kept_and_tried_again_while_redis_is_away(bridge: mqtt.Bridge, pub: Any, prefix: str,
                                                             vehicle: Any, secret: str, monkeypatch: Any) -> None:
    import redis

    real, failures = streams.append, list[int]()

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise redis.ConnectionError("Redis is restarting")
        return real(*args, **kwargs)

    monkeypatch.setattr(streams, "append", flaky)
    publish(pub, f"{prefix}vehicles/MQ0001/telemetry", json.dumps({"secret": secret, "seq": 1, "ts": _now_ms()}))
    deadline = time.monotonic() + 10
    totals: dict[str, int] = {}
    while not totals and time.monotonic() < deadline:
        totals = dict(bridge.poll(timeout=0.5, stop=threading.Event()))
    assert failures == [1] and totals["accepted"] == 1
    assert [row[0] for row in stream_rows(vehicle.id)] == [1]


def test_on_stop_a_batch_redis_refuses_is_counted_lost(bridge: mqtt.Bridge, monkeypatch: Any) -> None:
    import redis

    def down(*args: Any, **kwargs: Any) -> Any:
        raise redis.ConnectionError("down")

    monkeypatch.setattr(mqtt.bridge, "ingest_many", down)
    stopped = threading.Event()
    stopped.set()
    assert bridge._process_retrying([("x/vehicles/A/telemetry", b"{}", time.time())], stopped) == {"lost": 1}
