"""The HTTP edge when Redis is away or the pipeline is behind: 503 with a code and Retry-After, a WARNING line per
interval instead of an ERROR (with a traceback) per request, and nothing applied twice after the unit's retry."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import msgpack
import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client

from telemetry import ingest, pipeline, refusals, status, streams
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import URL, auth, message, now_ms, stream_messages

pytestmark = pytest.mark.django_db

CLOSED = "redis://127.0.0.1:1/0"  # nothing listens there


@pytest.fixture(autouse=True)
def edge_log(monkeypatch: Any) -> refusals.RefusalLog:
    """A fresh per-process refusal log for each test (the module's one counts across tests otherwise)."""
    log = refusals.RefusalLog(refusals.logger)
    monkeypatch.setattr(refusals, "edge", log)
    return log


def post(body: Any, headers: dict[str, Any], **client: Any) -> Any:
    return Client(**client).post(URL, data=body, content_type="application/json", **headers)


def redis_away(settings: Any, *, cache_too: bool) -> None:
    """Point the edge's Redis clients at a closed port (the machine's Redis is shared: never stopped)."""
    settings.REDIS_URL = CLOSED  # telemetry.streams makes a new client when the URL changes
    if cache_too:  # Django's cache handlers are rebuilt when CACHES changes (django.test.signals)
        settings.CACHES = {"default": {**django_settings.CACHES["default"], "LOCATION": CLOSED}}


def loud(caplog: Any) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def warnings_of_edge(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "telemetry.refusals" and r.levelno == logging.WARNING]


@pytest.mark.parametrize("cache_too", [True, False], ids=["redis-away", "streams-away-credential-cached"])
def test_redis_away_is_503_telemetry_unavailable_then_the_same_request_is_accepted(
        vehicle_secret: Any, settings: Any, caplog: Any, cache_too: bool) -> None:
    vehicle, secret = vehicle_secret
    good_url, good_caches = settings.REDIS_URL, settings.CACHES
    later = now_ms() + 1000  # than the factory's position_at (stored to the microsecond; ts is in milliseconds)
    batch = [message(1, ts=later + 1, lat=52.53, lon=13.41), message(2, ts=later + 2, lat=52.54, lon=13.42)]
    assert post(message(0), auth(vehicle, secret)).status_code == 202  # the credential is cached
    redis_away(settings, cache_too=cache_too)
    with caplog.at_level(logging.INFO):
        r = post(batch, auth(vehicle, secret))
    assert (r.status_code, r.json()["error"]["code"]) == (503, "telemetry_unavailable")
    assert r["Retry-After"] == "5" and r.json()["error"]["details"] == {"retry_after_s": 5}
    assert loud(caplog) == []  # no "Service Unavailable" / traceback at ERROR from django.request
    assert warnings_of_edge(caplog) == [
        "telemetry edge: 1 request(s) refused with 503 in 0.0 s (telemetry_unavailable 1); "
        "last error: Error 111 connecting to 127.0.0.1:1. Connection refused."]

    settings.REDIS_URL, settings.CACHES = good_url, good_caches  # Redis is back: the unit sends the batch again
    assert stream_messages() == 1  # nothing of the refused request was queued
    r = post(batch, auth(vehicle, secret))
    assert (r.status_code, r.json()["accepted"]) == (202, 2)
    assert stream_messages() == 3 and pipeline.drain_until_empty() == 3
    assert sorted(HistoryPoint.objects.filter(vehicle_id=vehicle.id).values_list("seq", flat=True)) == [0, 1, 2]
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon) == (52.54, 13.42)


def test_backpressure_refusals_are_one_warning_per_interval_with_counts_and_no_error(
        vehicle_secret: Any, monkeypatch: Any, caplog: Any, edge_log: refusals.RefusalLog) -> None:
    vehicle, secret = vehicle_secret
    assert post(message(0), auth(vehicle, secret)).status_code == 202  # the credential is cached
    monkeypatch.setattr(streams, "_full_until", float("inf"))  # a shard stream is over TELEMETRY_MAX_BACKLOG
    with caplog.at_level(logging.INFO):
        answers = [post(message(seq), auth(vehicle, secret)) for seq in range(1, 301)]
        assert {(r.status_code, r.json()["error"]["code"], r["Retry-After"]) for r in answers} == {
            (503, "telemetry_backlog_full", "1")}
        assert loud(caplog) == []  # was: "ERROR django.request: Service Unavailable: /api/v1/telemetry" x 300
        assert warnings_of_edge(caplog) == [
            "telemetry edge: 1 request(s) refused with 503 in 0.0 s (telemetry_backlog_full 1)"]
        monkeypatch.setattr(streams, "_full_until", 0.0)  # the workers caught up
        monkeypatch.setattr(edge_log, "_next", 0.0)  # ... and the interval has passed: the next answer reports
        assert post(message(301), auth(vehicle, secret)).status_code == 202
    assert loud(caplog) == []
    lines = warnings_of_edge(caplog)
    assert len(lines) == 2 and "299 request(s) refused with 503" in lines[1]
    assert lines[1].endswith("(telemetry_backlog_full 299)")
    assert stream_messages() == 2
    assert int(status.snapshot()["rejected"]["telemetry_backlog_full"]) == 300


def test_the_filter_keeps_other_server_errors_of_the_edge(
        vehicle_secret: Any, monkeypatch: Any, caplog: Any) -> None:
    vehicle, secret = vehicle_secret

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ingest, "ingest", bug)
    with caplog.at_level(logging.INFO):
        r = post(message(1), auth(vehicle, secret), raise_request_exception=False)
    assert r.status_code == 500
    assert [(rec.name, rec.levelno, bool(rec.exc_info)) for rec in loud(caplog)] == [
        ("django.request", logging.ERROR, True)]


class RedisBackAfter(threading.Event):
    """The bridge's stop event: its backoff waits return at once, and Redis is back after the ``after``-th one."""

    def __init__(self, after: int, back: Any) -> None:
        super().__init__()
        self.after, self.back, self.waits = after, back, list[float]()

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        if len(self.waits) == self.after:
            self.back()
        return False


def test_the_mqtt_bridge_keeps_its_batch_while_redis_is_away_and_logs_each_attempt_at_warning(
        vehicle_secret: Any, settings: Any, caplog: Any) -> None:
    from telemetry import mqtt

    vehicle, secret = vehicle_secret
    good_url, good_caches = settings.REDIS_URL, settings.CACHES

    def back() -> None:
        settings.REDIS_URL, settings.CACHES = good_url, good_caches

    bridge = mqtt.Bridge(client_id=f"test-bridge-{uuid.uuid4().hex[:8]}", auth_cache_s=0)
    topic = f"{settings.MQTT_TOPIC_PREFIX}vehicles/{vehicle.code}/telemetry"
    payload = json.dumps({"secret": secret, "seq": 1, "ts": now_ms() + 1000, "lat": 52.53, "lon": 13.41}).encode()
    redis_away(settings, cache_too=True)  # the credential check and the write both need Redis
    stop = RedisBackAfter(2, back)
    with caplog.at_level(logging.INFO):
        totals = bridge._process_retrying([(topic, payload, time.time())], stop)
    assert (totals["accepted"], stop.waits) == (1, [1.0, 2.0])  # backoff doubling, then accepted
    assert loud(caplog) == []
    assert [r.getMessage() for r in caplog.records if r.name == "telemetry.mqtt.bridge"] == [
        f"mqtt bridge: Error 111 connecting to 127.0.0.1:1. Connection refused.; the batch of 1 is tried again in "
        f"{delay} s" for delay in (1, 2)]
    assert pipeline.drain_until_empty() == 1
    assert list(HistoryPoint.objects.filter(vehicle_id=vehicle.id).values_list("seq", flat=True)) == [1]


# --- a write cut in the middle -------------------------------------------------------------------------------

MARKER = b"$4\r\nEVAL\r\n"  # RESP of an EVAL command's name: the edges' write (streams.append) starts here


class CuttingProxy:
    """A TCP proxy to the test Redis that breaks its FIRST connection carrying an EVAL (the later ones pass):

    - ``request``: forwards the request up to the first complete EVAL (one shard's XADD) and cuts the rest;
    - ``reply``: forwards the whole request (Redis runs it all) and drops the reply.
    The client sees its connection drop either way."""

    def __init__(self, upstream: tuple[str, int], mode: str) -> None:
        self.upstream, self.mode = upstream, mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            muted = threading.Event()
            threading.Thread(target=self._back, args=(server, client, muted), daemon=True).start()
            threading.Thread(target=self._forth, args=(client, server, muted), daemon=True).start()

    def _back(self, server: socket.socket, client: socket.socket, muted: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while (data := server.recv(65536)) and not muted.is_set():
                client.sendall(data)
        self._close(server, client)

    def _forth(self, client: socket.socket, server: socket.socket, muted: threading.Event) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                if self.cut.is_set() or MARKER not in seen + data:
                    seen += data if not self.cut.is_set() else b""
                    server.sendall(data)
                    continue
                self.cut.set()
                if self.mode == "reply":
                    muted.set()  # the reply to this request never reaches the client
                    server.sendall(data)
                else:  # up to the "*<n>" header of the second EVAL: Redis runs the first, never sees the rest
                    buffer = seen + data
                    second = buffer.find(MARKER, buffer.find(MARKER) + 1)
                    server.sendall(data[:buffer.rfind(b"*", 0, second) - len(seen)] if second >= 0 else data)
                time.sleep(0.2)  # Redis has run what it got
                break
        self._close(client, server)

    @staticmethod
    def _close(*sockets: socket.socket) -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def url(self, redis_url: str) -> str:
        parts = urlsplit(redis_url)
        return parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()


@pytest.fixture
def proxy(request: Any, settings: Any) -> Iterator[CuttingProxy]:
    kwargs = redis.Redis.from_url(settings.REDIS_URL).connection_pool.connection_kwargs
    cutting = CuttingProxy((kwargs["host"], kwargs["port"]), request.param)
    yield cutting
    cutting.listener.close()


@pytest.mark.parametrize(("proxy", "entries_each"), [("request", 1), ("reply", 2)], indirect=["proxy"],
                         ids=["cut-after-one-shard", "reply-lost"])
def test_a_multi_shard_write_cut_by_a_redis_failure_is_applied_once_after_the_retry(
        settings: Any, proxy: CuttingProxy, entries_each: int) -> None:
    """The MQTT bridge's ``ingest_many`` writes several shards in one call. Redis fails during it: the caller sees a
    connection error (redis-py may send the call again itself on a new connection; else the bridge does, or the unit
    after its 503). Cut before EXEC arrived, nothing was written (not the first shard alone); with the reply lost,
    everything was, and the retry queues both shards again. Either way each message is stored and applied once."""
    first: Any = VehicleFactory()
    second: Any = VehicleFactory()
    while streams.shard_of(second.id) == streams.shard_of(first.id):
        second = VehicleFactory()
    later = now_ms() + 1000  # than the factory's position_at (stored to the microsecond; ts is in milliseconds)
    batch = [(vehicle.id, [message(seq, ts=later + seq, lat=52.5 + seq / 100, lon=13.4) for seq in (1, 2)],
              time.time()) for vehicle in (first, second)]
    streams.ensure_groups()
    good, settings.REDIS_URL = settings.REDIS_URL, proxy.url(settings.REDIS_URL)
    try:
        ingest.ingest_many(batch)
    except redis.ConnectionError:
        ingest.ingest_many(batch)  # what the bridge's _process_retrying does
    assert proxy.cut.is_set()
    settings.REDIS_URL = good
    assert {vehicle.id: _entries_of(vehicle.id) for vehicle in (first, second)} == {
        first.id: entries_each, second.id: entries_each}  # was {first: 2, second: 1} when cut after one shard
    assert pipeline.drain_until_empty() == 4 * entries_each
    for vehicle in (first, second):
        assert sorted(HistoryPoint.objects.filter(vehicle_id=vehicle.id).values_list("seq", flat=True)) == [1, 2]
        vehicle.refresh_from_db()
        assert (vehicle.lat, vehicle.lon) == (52.52, 13.4)
    stats = status.snapshot()["stats"]
    assert (int(stats["new"]), int(stats.get("duplicates", 0))) == (4, 4 * (entries_each - 1))


def _entries_of(vehicle_id: uuid.UUID) -> int:
    entries: Any = streams.client().xrange(streams.stream_key(streams.shard_of(vehicle_id)))
    return sum(uuid.UUID(bytes=msgpack.unpackb(fields[streams.FIELD], raw=False)[0]) == vehicle_id
               for _, fields in entries)


def test_the_openapi_document_lists_both_503_codes_of_the_edge() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    answer = schema["paths"]["/api/v1/telemetry"]["post"]["responses"]["503"]
    assert answer["x-error-codes"] == ["telemetry_backlog_full", "telemetry_unavailable"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
