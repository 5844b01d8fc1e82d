"""Faults injected into real Celery telemetry workers (docs/operations.md, "What a fault costs"): a drainer killed
(SIGKILL) inside its batch, a Redis restart, a PostgreSQL outage. Each costs seconds of delay, never data: every
accepted message is stored once, in each vehicle's order (none applied late), and draining resumes within 5 s."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from config import env
from config.celery import app as celery_app
from telemetry import ingest, status, streams, tasks
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RECOVERY_S = 5.0  # the target: a fault costs less than this much delay once the faulty part is back
DRAINERS = 2


def _database_url(name: str | None = None) -> str:
    """The test database's URL (or another database's on the same server) for the worker and raw connections."""
    return env.database_url({**connection.settings_dict, **({"NAME": name} if name else {})})


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll ``condition``; returns the seconds it took."""
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except redis.ConnectionError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _drained() -> bool:
    snap = status.snapshot()
    return bool(snap["backlog"] == 0 and snap["pending"] == 0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def worker(transactional_db: Any) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``worker(redis_url=None)``: a telemetry worker of ``DRAINERS`` processes on a queue of its own, started
    with its drainers (as ``drain_kick`` would); the production defaults for the lease and the backoff.
    ``redis_url``: its Redis for everything (streams, broker, cache), as in production."""
    queue = f"test-faults-{uuid.uuid4().hex[:8]}"
    started: list[subprocess.Popen[bytes]] = []
    brokers: list[str] = []

    def start(redis_url: str | None = None) -> subprocess.Popen[bytes]:
        broker = redis_url or settings.CELERY_BROKER_URL
        brokers.append(broker)
        env = {**os.environ, "DATABASE_URL": _database_url(), "REDIS_URL": redis_url or settings.REDIS_URL,
               "CELERY_BROKER_URL": broker, "TELEMETRY_QUEUE": queue,
               "TELEMETRY_DRAIN_SECONDS": "10", "TELEMETRY_DRAINERS": str(DRAINERS),
               "CELERY_TASK_ALWAYS_EAGER": "0", "DEBUG": "1"}
        for name in ("TELEMETRY_LEASE_MS", "TELEMETRY_BACKOFF_MAX_MS", "TELEMETRY_RECLAIM_IDLE_S"):
            env.pop(name, None)
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", str(DRAINERS),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "ERROR"],
            cwd=ROOT, env=env, start_new_session=True,
        )
        started.append(process)
        with celery_app.connection_for_write(broker) as broker_connection:
            for _ in range(DRAINERS):
                celery_app.send_task(tasks.drain.name, queue=queue, connection=broker_connection)
        _wait(lambda: status_free_slots() == 0, 120, "the drainers to start")
        return process

    start.queue = queue  # type: ignore[attr-defined]
    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for broker in brokers:
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(broker).delete(queue)


def status_free_slots() -> int:
    client = streams.client()
    return DRAINERS - sum(bool(client.exists(streams.key(f"drainer:{i}"))) for i in range(DRAINERS))


class Fleet:
    """Vehicles on every shard; ``send`` gives each the next message (device time now, a new position)."""

    def __init__(self, count: int) -> None:
        self.vehicles: list[Any] = [VehicleFactory(position_at=datetime(2020, 1, 1, tzinfo=UTC))
                                    for _ in range(count)]
        self.seq = 0
        self.accepted = 0

    def send(self, vehicles: list[Any] | None = None) -> None:
        self.seq += 1
        t = now_ms()
        for v in vehicles or self.vehicles:
            result = ingest.ingest(v.id, [message(self.seq, ts=t, lat=52.5 + self.seq / 10_000, lon=13.4)])
            self.accepted += result.accepted

    def assert_stored_once_in_order(self) -> None:
        snap = status.snapshot()
        assert snap["stats"]["accepted"] == self.accepted
        stored = HistoryPoint.objects.filter(vehicle_id__in=[v.id for v in self.vehicles]).count()
        assert stored == self.accepted  # and the history's key stores a row once
        assert snap["stats"]["new"] == self.accepted
        assert snap["stats"].get("late", 0) == 0  # no reading applied after a newer one of its vehicle


def _wait_for_a_blocked_batch(what: str) -> None:
    """Until a session of the test database waits for a row lock. Polled from a connection of its own: inside
    the blocker's transaction pg_stat_activity is a snapshot taken at its first read, and would never show the
    wait that began after it."""
    with psycopg.connect(_database_url(), autocommit=True) as watcher:
        _wait(lambda: watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone() != (0,), 60, what)


def _drainers_holding_entries() -> list[int]:
    """Pids of the drainer processes with entries pending (their consumer names end in the pid), sorted."""
    consumers = {c["name"] for shard in range(streams.shards())
                 for c in streams.client().xinfo_consumers(streams.stream_key(shard), streams.GROUP)
                 if c["pending"]}
    return sorted(int(name.decode().rsplit("-", 1)[1]) for name in consumers)


def test_a_drainer_killed_inside_its_batch_delays_every_shard_by_less_than_5_s(worker: Any) -> None:
    fleet = Fleet(24)
    worker()
    fleet.send()
    _wait(_drained, 60, "the first messages to be applied")
    blocker = psycopg.connect(_database_url(), autocommit=False)
    try:
        # Hold a few vehicle rows: the batch that reads their messages waits inside its transaction, holding the
        # locks of every shard it read (a quiet pipeline: one batch takes every shard).
        blocker.execute("SELECT id FROM fleet_vehicle WHERE id = ANY(%s) FOR UPDATE",
                        ([v.id for v in fleet.vehicles[:3]],))
        fleet.send()
        _wait_for_a_blocked_batch("a batch to wait for the vehicle rows")
        os.kill(_drainers_holding_entries()[0], signal.SIGKILL)  # its pool process; the other drainer lives on
        killed = time.monotonic()
    finally:
        blocker.rollback()
        blocker.close()
    fleet.send()  # new messages on every shard
    _wait(_drained, 60, "the pipeline to drain")
    delay = time.monotonic() - killed
    assert delay < RECOVERY_S, f"the killed drainer held the shards for {delay:.1f} s"
    fleet.assert_stored_once_in_order()
    assert status.snapshot()["stats"]["reclaimed"] > 0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """A Redis of this test's own with an append-only file (the machine's Redis is shared: never restart it);
    calling the fixture's value restarts it (SHUTDOWN, then a new server on the same port and directory)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
               "--dir", str(tmp_path)]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL)]
    url = f"redis://127.0.0.1:{port}/0"
    _wait(lambda: bool(redis.Redis.from_url(url).ping()), 30, "the private Redis")

    def restart(down_s: float = 2.0) -> None:
        with contextlib.suppress(redis.ConnectionError):  # the server closes the connection as it stops
            redis.Redis.from_url(url).shutdown()  # writes the append-only file
        processes[-1].wait(30)
        time.sleep(down_s)
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        _wait(lambda: bool(redis.Redis.from_url(url).ping()), 30, "the private Redis to come back")

    restart.url = url  # type: ignore[attr-defined]
    yield restart
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_draining_resumes_within_5_s_of_a_redis_restart(worker: Any, private_redis: Any, settings: Any) -> None:
    settings.REDIS_URL = private_redis.url  # this test's streams; its worker's streams and broker
    streams.ensure_groups()
    fleet = Fleet(16)
    worker(redis_url=private_redis.url)
    fleet.send()
    _wait(_drained, 60, "the first messages to be applied")
    private_redis()
    back = time.monotonic()
    fleet.send()
    _wait(_drained, 60, "the pipeline to drain after the restart")
    delay = time.monotonic() - back
    assert delay < RECOVERY_S, f"draining resumed {delay:.1f} s after Redis came back"
    fleet.assert_stored_once_in_order()
    assert status_free_slots() == 0  # the drainers outlived the restart


def test_a_database_outage_costs_seconds_and_no_reading_is_applied_late(worker: Any) -> None:
    fleet = Fleet(16)
    worker()
    stop = threading.Event()

    def produce() -> None:  # a steady feed through the outage
        while not stop.is_set():
            fleet.send()
            time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    name = connection.settings_dict["NAME"]
    admin = psycopg.connect(_database_url("postgres"), autocommit=True)
    connection.ensure_connection()
    mine = connection.connection.info.backend_pid
    try:
        time.sleep(1.0)
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')  # a database that is away for 1.5 s
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                      (name, mine))
        time.sleep(1.5)
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        time.sleep(1.0)  # the feed goes on after the database is back
        stop.set()
        producer.join()
    stopped = time.monotonic()
    _wait(_drained, 60, "the pipeline to drain after the outage")
    delay = time.monotonic() - stopped
    assert delay < RECOVERY_S, f"the pipeline drained {delay:.1f} s after the feed stopped"
    fleet.assert_stored_once_in_order()


def _slots() -> set[Any]:
    """The tokens of the drainer slots held now."""
    client = streams.client()
    return {token for i in range(DRAINERS) if (token := client.get(streams.key(f"drainer:{i}")))}


def test_a_killed_worker_s_slots_do_not_keep_the_new_worker_idle(worker: Any) -> None:
    fleet = Fleet(16)
    first = worker()
    fleet.send()
    _wait(_drained, 60, "the first messages to be applied")
    old_slots = _slots()
    os.killpg(first.pid, signal.SIGKILL)  # the whole worker: its drainers never release their slots
    first.wait()
    fleet.send()
    stop = threading.Event()

    def beat() -> None:  # drain_kick every 5 s, as celery beat runs it
        while not stop.wait(5.0):
            with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as broker_connection:
                celery_app.send_task(tasks.drain_kick.name, queue=worker.queue, connection=broker_connection)

    kicker = threading.Thread(target=beat)
    kicker.start()
    try:
        worker()  # the new worker, with the drain tasks the kicks queued while no worker ran
        # Its drainers take slots as soon as it is ready: the dead worker's expired within a lease.
        _wait(lambda: bool(_slots() - old_slots), 30, "the new worker's drainers to take slots")
        ready = time.monotonic()
        _wait(_drained, 60, "the new worker to drain")
    finally:
        stop.set()
        kicker.join()
    delay = time.monotonic() - ready
    assert delay < RECOVERY_S, f"the new worker drained {delay:.1f} s after its drainers started"
    fleet.assert_stored_once_in_order()


def test_rides_whose_lock_answers_sat_in_a_killed_batch_end_once_charged_once(worker: Any) -> None:
    """The issue's money fault with real workers: riders end their rides, the batch that carries their vehicles'
    lock answers is killed (SIGKILL) mid-way and the lock commands time out meanwhile; the answers are taken over
    and each ride ends at its end request, charged exactly once, and the ledger reconciles."""
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    from billing.models import LedgerTransaction, RideBilling
    from billing.services import methods, tariffs
    from fleet import services as fleet_services
    from fleet.models import Command
    from rides.models import Ride, RideState
    from tests.accounts.factories import UserFactory
    from tests.fleet.factories import CityFactory, VehicleTypeFactory, ZoneFactory
    from tests.telemetry.conftest import URL, auth

    city = CityFactory.create(slug="faultcity")
    ZoneFactory.create(city=city, kind="operating_area")
    scooter = VehicleTypeFactory.create(code="faultscooter")
    tariffs.tariff_publish(city=city, vehicle_type=scooter, unlock_fee=Decimal("1.00"),
                           brackets=[{"start_minute": 0, "per_minute": "0.25"}], pause_per_minute=Decimal("0.10"))
    rides, units = [], []
    for i in range(4):
        vehicle = VehicleFactory.create(city=city, vehicle_type=scooter, code=f"FLT{i:03d}")
        rider = UserFactory.create()
        methods.payment_method_add(user=rider, token="tok_visa")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(rider).access_token}")
        started = api.post("/api/v1/rides/start", {"code": vehicle.code}, format="json")
        assert started.status_code == 201, started.content
        ride: Any = Ride.objects.get(id=started.json()["id"])
        fleet_services.command_deliver(command_id=ride.unlock_command_id)
        fleet_services.command_ack(command_id=ride.unlock_command_id, ok=True)
        assert api.post(f"/api/v1/rides/{ride.id}/end", format="multipart").status_code == 202
        ride.refresh_from_db()
        fleet_services.command_deliver(command_id=ride.lock_command_id)
        units.append((vehicle, fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id), ride))
        rides.append(ride)

    worker()
    blocker = psycopg.connect(_database_url(), autocommit=False)
    try:
        # The batch with the answers waits on the vehicle rows inside its transaction; its drainer is then killed.
        blocker.execute("SELECT id FROM fleet_vehicle WHERE id = ANY(%s) FOR UPDATE", ([v.id for v, _, _ in units],))
        for vehicle, secret, ride in units:
            correlation = Command.objects.get(id=ride.lock_command_id).correlation_id
            body = message(1, ack={"correlation_id": str(correlation), "ok": True}, locked=True, speed_kph=0)
            answered = Client().post(URL, data=body, content_type="application/json", **auth(vehicle, secret))
            assert answered.status_code == 202, answered.content
        _wait_for_a_blocked_batch("the batch with the answers to wait for the vehicle rows")
        for pid in _drainers_holding_entries():
            os.kill(pid, signal.SIGKILL)
    finally:
        blocker.rollback()
        blocker.close()
    # Meanwhile every lock command times out: the rides are active again, as in the fault.
    fleet_services.commands_expire_overdue(now=timezone.now() + timedelta(minutes=5))
    assert {r.state for r in Ride.objects.filter(id__in=[r.id for r in rides])} == {RideState.ACTIVE}

    _wait(_drained, 60, "the answers to be taken over and applied")
    _wait(lambda: all(Ride.objects.get(id=r.id).state == RideState.ENDED for r in rides), 60, "the rides to end")
    def charged(ride_id: Any) -> Callable[[], bool]:
        return lambda: RideBilling.objects.get(ride_id=ride_id).status == RideBilling.Status.CHARGED

    for ride in rides:
        ended: Any = Ride.objects.get(id=ride.id)
        assert ended.end_requested_at is not None and ride.end_requested_at is not None
        assert abs((ended.ended_at - ride.end_requested_at).total_seconds()) < 1  # billed to the end request
        _wait(charged(ride.id), 60, "the charge")
        assert LedgerTransaction.objects.filter(ride_id=ride.id, kind="ride_charge").count() == 1
    call_command("billing_reconcile")  # exits non-zero on any mismatch
