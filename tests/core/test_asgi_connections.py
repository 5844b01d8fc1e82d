"""ASGI processes (Daphne: the ws process, `make run`'s runserver) hold a bounded number of PostgreSQL connections.

Under ASGI each sync request runs in a thread of its own: with persistent connections, every request left one open
(a `make run` under the simulator reached PostgreSQL's max_connections). The real servers run here as subprocesses on
the test database, their connections told apart by ``application_name``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from websockets.sync.client import connect

from accounts import roles
from config import env
from tests import processes
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.live.conftest import token

ROOT = Path(__file__).resolve().parents[2]
POOL_SIZE = 4
SERVERS = {
    "daphne": lambda port: [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
                            "config.asgi:application"],
    "runserver": lambda port: [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url(application_name: str) -> str:
    db = settings.DATABASES["default"]
    return env.database_url({**db, "OPTIONS": {**db.get("OPTIONS", {}), "application_name": application_name}})


def backends(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return int(cursor.fetchone()[0])


@pytest.fixture(params=list(SERVERS))
def server(request: Any, transactional_db: Any) -> Iterator[tuple[int, str]]:
    """A server process as the Procfiles start it (only the pool size is set), on the test database."""
    name, port = f"fw-asgi-test-{uuid.uuid4().hex[:8]}", _free_port()
    env = {k: v for k, v in os.environ.items() if k != "ASGI_SERVER"}  # decided by config.asgi / manage.py
    env.update(DATABASE_URL=_database_url(name), ASGI_DB_POOL_SIZE=str(POOL_SIZE), DEBUG="1")
    process = subprocess.Popen(SERVERS[request.param](port), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()[-3000:] if process.stderr else ""
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
        yield port, name
    finally:
        processes.stop(process)


def _in_threads(count: int, clients: int, request: Callable[[], bool]) -> int:
    """``count`` calls of ``request`` from ``clients`` threads; returns how many succeeded."""
    left, ok = [count], [0]
    lock = threading.Lock()

    def work() -> None:
        try:
            while True:
                with lock:
                    if left[0] == 0:
                        return
                    left[0] -= 1
                try:
                    succeeded = request()
                except Exception:  # a refused or timed-out request counts as failed
                    succeeded = False
                with lock:
                    ok[0] += succeeded
        finally:
            connection.close()  # this thread's own, if it counted backends

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ok[0]


@pytest.mark.slow
def test_an_asgi_server_holds_at_most_its_pool_of_connections(server):
    port, name = server
    rider = UserFactory.create()
    headers = {"Authorization": f"Bearer {token(rider, seconds=600)}"}
    local = threading.local()

    def get() -> bool:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # keep-alive, as a proxy
        local.turn = not getattr(local, "turn", False)
        path, auth = ("/readyz", {}) if local.turn else ("/api/v1/me", headers)
        local.conn.request("GET", path, headers=auth)
        response = local.conn.getresponse()
        return response.status == 200 and bool(response.read())

    # 300 requests in batches: before, each left a connection open, so the first batch already failed (and a
    # failing run stops there, on a PostgreSQL server that others share).
    for batch in range(10):
        assert _in_threads(30, 6, get) == 30
        held = backends(name)
        assert held <= POOL_SIZE, f"after {30 * (batch + 1)} requests the process holds {held} connections"
    assert 1 <= backends(name) <= POOL_SIZE


@pytest.mark.slow
def test_sockets_take_connections_from_the_pool_and_give_them_back(server):
    """The consumers' path: the JWT middleware, the access check and the snapshot each read the database through
    database_sync_to_async; 60 sockets, 6 at a time, on a pool of 4 (one kept would starve the pool)."""
    port, name = server
    city = CityFactory.create()
    VehicleFactory.create_batch(3, city=city)
    staff = UserFactory.create(is_staff=True)
    staff.groups.add(Group.objects.get(name=roles.SUPPORT_AGENT))
    url = f"ws://127.0.0.1:{port}/ws/v1/fleet?city={city.id}"
    auth = {"Authorization": f"Bearer {token(staff, seconds=600)}"}
    peak = [0]

    def open_socket() -> bool:
        with connect(url, additional_headers=auth, open_timeout=20) as ws:
            snapshot = json.loads(ws.recv(timeout=20))
        peak[0] = max(peak[0], backends(name))
        return snapshot["type"] == "snapshot" and len(snapshot["data"]["vehicles"]) == 3

    started = time.monotonic()
    assert _in_threads(60, 6, open_socket) == 60
    assert time.monotonic() - started < 60  # no socket waited for the pool's 30 s timeout
    assert 1 <= max(peak[0], backends(name)) <= POOL_SIZE
