"""End to end: a real WebSocket client (websockets) against a Daphne process, the Redis channel layer and a
Celery worker process, all on the test database. Marked slow: it starts processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from config import env
from core import push
from live import metrics
from rides import services as ride_services
from tests import processes
from tests.fleet.factories import VehicleFactory
from tests.live.conftest import token
from tests.live.helpers import active_ride

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    url = env.database_url(settings.DATABASES["default"])  # the test database
    return {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "LIVE_RIDE_INTERVAL_MS": "300",
            "LIVE_FLEET_INTERVAL_MS": "500", "VEHICLE_GATEWAY_SIM_MODE": "ack", "VEHICLE_GATEWAY_SIM_LAG_S": "2",
            "LIVE_METRICS_FLUSH_S": "1"}


@pytest.fixture(scope="module")
def daphne(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    process, base = processes.start_daphne(_env())
    yield base
    processes.stop(process, timeout=10)


@pytest.fixture(scope="module")
def celery_worker(django_db_setup: Any) -> Iterator[None]:
    from config.celery import app

    app.control.purge()  # tasks queued by earlier tests of this database's broker
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
                                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                                "--without-heartbeat"], cwd=ROOT, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    processes.stop(process, timeout=10)


def _open(url: str, user: Any, seconds: int | None = None) -> ClientConnection:
    return connect(url, additional_headers={"Authorization": f"Bearer {token(user, seconds)}"}, open_timeout=10)


def _next(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    """The next message that is not a ping (pings are answered, as a client must)."""
    while True:
        message = json.loads(ws.recv(timeout=timeout))
        if message["type"] == "ping":
            ws.send(json.dumps({"type": "pong", "seq": message["seq"]}))
            continue
        return message  # type: ignore[no-any-return]


def test_refused_without_token_and_for_a_foreign_ride(daphne, card_rider, other_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    with pytest.raises(InvalidStatus) as anonymous:
        connect(f"{daphne}/ws/v1/rides/{ride.id}", open_timeout=10)
    assert anonymous.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as foreign:
        _open(f"{daphne}/ws/v1/rides/{ride.id}", other_rider)
    assert foreign.value.response.status_code == 403


def test_snapshot_updates_then_resume_after_reconnect(daphne, card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    with _open(f"{daphne}/ws/v1/rides/{ride.id}", card_rider) as ws:
        snapshot = _next(ws)
        assert (snapshot["type"], snapshot["seq"], snapshot["data"]["state"]) == ("snapshot", 1, "active")
        push.to_ride(ride.id, "ride.updated", {"lat": 52.51, "lon": 13.39, "battery_pct": 61, "distance_m": 40})
        update = _next(ws)
        assert (update["type"], update["data"]["position"], update["data"]["battery_pct"]) == (
            "ride.updated", {"lat": 52.51, "lon": 13.39}, 61)
        last_seq = update["seq"]
    # Missed while away: the reconnect gets a fresh snapshot carrying it, numbered after the last seen message.
    push.to_ride(ride.id, "ride.updated", {"lat": 52.52, "lon": 13.38, "battery_pct": 60})
    with _open(f"{daphne}/ws/v1/rides/{ride.id}?last_seq={last_seq}", card_rider) as ws:
        snapshot = _next(ws)
        assert (snapshot["type"], snapshot["seq"], snapshot["resumed"]) == ("snapshot", last_seq + 1, True)
        assert snapshot["data"]["state"] == "active"


def test_the_layers_pushes_reach_sockets_of_a_daphne_process(daphne, card_rider, other_rider, vehicle):
    """Contract with channels_redis: what ``core.layers.PubSubLayer`` publishes from a sync process (one push,
    and a telemetry-style batch in one round trip) is what a Daphne process's group members receive."""
    ride = active_ride(card_rider, vehicle)
    with _open(f"{daphne}/ws/v1/me", other_rider) as me, _open(f"{daphne}/ws/v1/rides/{ride.id}", card_rider) as ws:
        assert _next(me)["type"] == _next(ws)["type"] == "snapshot"
        push.to_user(other_rider.id, "notification", {"title": "single"})  # outside a batch: sent at once
        single = _next(me)
        assert (single["type"], single["data"]) == ("notification", {"title": "single"})
        with push.batched(), transaction.atomic():
            push.to_ride(ride.id, "ride.zone_warning", {"zone_id": "z1", "kind": "slow"})
            push.to_user(other_rider.id, "notification", {"title": "batched"})
        warning = _next(ws)
        assert (warning["type"], warning["data"]) == ("ride.zone_warning", {"zone_id": "z1", "kind": "slow"})
        assert _next(me)["data"] == {"title": "batched"}


def test_push_from_a_celery_worker_process_reaches_the_socket(daphne, celery_worker, card_rider, vehicle):
    ride = ride_services.ride_start(rider=card_rider, code=vehicle.code)  # unlock queued to the broker
    with _open(f"{daphne}/ws/v1/rides/{ride.id}", card_rider) as ws:
        assert _next(ws)["data"]["state"] == "unlocking"
        # The worker delivers the unlock; the simulated vehicle acks 2 s later (another task in the worker),
        # and rides pushes ride.command and ride.updated from that worker process.
        seen = [_next(ws, timeout=20) for _ in range(2)]
    by_type = {m["type"]: m for m in seen}
    assert by_type["ride.command"]["data"] == {"kind": "unlock", "outcome": "acked"}
    assert by_type["ride.updated"]["data"]["state"] == "active"


def test_fleet_positions_are_coalesced_over_a_real_socket(daphne, city, scooter, fleet_staff):
    bike = VehicleFactory.create(city=city, vehicle_type=scooter, code="E2E001", lat=52.5, lon=13.4)
    with _open(f"{daphne}/ws/v1/fleet?city={city.id}", fleet_staff) as ws:
        assert [v["code"] for v in _next(ws)["data"]["vehicles"]] == ["E2E001"]
        started = time.monotonic()
        for i in range(30):
            push.fleet_positions(city.id, [{"id": str(bike.id), "code": bike.code, "lat": 52.5 + i / 1e4,
                                            "lon": 13.4, "status": "available", "battery_pct": 80, "at": None}])
        pushing_s = time.monotonic() - started
        batches = [_next(ws)]
        while batches[-1]["data"]["vehicles"][0]["lat"] != pytest.approx(52.5029):
            batches.append(_next(ws))
        # 30 positions of one vehicle: one entry per batch, at most one batch per 500 ms interval (+ the first).
        assert all(len(b["data"]["vehicles"]) == 1 for b in batches)
        assert len(batches) <= pushing_s / 0.5 + 2 < 30
        with pytest.raises(TimeoutError):
            _next(ws, timeout=1)


def test_expired_token_closes_with_4001(daphne, card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    with _open(f"{daphne}/ws/v1/rides/{ride.id}", card_rider, seconds=2) as ws:
        _next(ws)
        with pytest.raises(ConnectionClosed) as closed:
            _next(ws, timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001  # Daphne sends the code without the reason text


def _open_sockets(stream: str) -> float:
    return next((sample.value for family in metrics.LiveCollector().collect() for sample in family.samples
                 if sample.name == "freewheel_live_sockets_open" and sample.labels == {"stream": stream}), 0.0)


def _until(check: Any, timeout: float = 8) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_daphne_process_reports_its_sockets_to_prometheus(daphne, card_rider, vehicle, settings):
    settings.LIVE_METRICS_PREFIX = settings.CHANNEL_LAYER_PREFIX  # the Daphne process's (its environment's)
    ride = active_ride(card_rider, vehicle)
    with _open(f"{daphne}/ws/v1/rides/{ride.id}", card_rider) as ws:
        _next(ws)
        assert _until(lambda: _open_sockets("ride") == 1)
    assert _until(lambda: _open_sockets("ride") == 0)
