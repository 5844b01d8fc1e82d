"""The MQTT edge's rate, for ``bench/telemetry.py`` (``mqtt_msgs_per_s``); also runnable alone:

    python -m bench._mqtt          (own database and Redis keys; figures, then one JSON line)

``measure`` starts the bridge (``telemetry.mqtt.Bridge``) as a process of its own, then publisher processes
(``telemetry.simulator.MqttTransport``, QoS 1, one reading per MQTT message as a unit sends it) publish
``messages`` readings of the given vehicles as fast as they can, on a topic prefix of their own, after a warm-up
round of one reading per vehicle (a running bridge has its vehicles' authentication cached; the first one costs a
Redis and often a database read per vehicle). The rate is
readings accepted into the Redis streams (the bridge's shared counters) divided by the time from the first
publish to the last acceptance. The publishers share the machine's two cores with the bridge, so the bridge's own
CPU time is reported too (``mqtt_bridge_cpu_msgs_per_s``: readings per second of bridge CPU, i.e. per core).

Environment: ``BENCH_MQTT_MESSAGES`` (60,000), ``BENCH_MQTT_VEHICLES`` (2,000), ``BENCH_MQTT_PUBLISHERS`` (2).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
Vehicle = tuple[uuid.UUID, str, str]  # (id, code, secret)


def create_vehicles(n: int) -> list[Vehicle]:
    """``n`` vehicles with known secrets in the current (benchmark) database, in a city of their own."""
    import secrets

    from fleet.models import City, VehicleType
    from fleet.models import Vehicle as VehicleModel
    from fleet.services.credentials import hash_secret

    city, _ = City.objects.get_or_create(slug="bench-mqtt", defaults={"name": "Bench MQTT", "timezone": "UTC",
                                                                      "currency": "EUR"})
    vtype, _ = VehicleType.objects.get_or_create(code="bench-mqtt", defaults={
        "name": "Scooter", "form_factor": "scooter_standing", "propulsion_type": "electric", "max_range_meters": 40_000})
    rows, out = [], []
    for i in range(n):
        secret, code = secrets.token_urlsafe(32), f"BM{i:06d}"
        rows.append(VehicleModel(code=code, imei=f"77{i:013d}", vehicle_type=vtype, city=city, status="available",
                                 secret_hash=hash_secret(secret)))
        out.append((secret, code))
    created = VehicleModel.objects.bulk_create(rows, batch_size=2000)
    return [(v.id, code, secret) for v, (secret, code) in zip(created, out, strict=True)]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _publish(vehicles: Sequence[Vehicle], count: int, topic_prefix: str, start: Any) -> None:
    """A publisher process: ``count`` readings over the vehicles, round robin, as fast as the transport goes."""
    from django.conf import settings

    from telemetry import simulator
    from telemetry.simulator.streets import StreetGrid, Walker

    settings.MQTT_TOPIC_PREFIX = topic_prefix
    grid = StreetGrid(52.52, 13.405)
    sims = [simulator.SimVehicle(id=v[0], code=v[1], secret=v[2], walker=Walker((0, 0), (1, 0)),
                                 seq=int(time.time() * 1000), riding=True, locked=False) for v in vehicles]
    transport = simulator.MqttTransport(clients=2, qos=1)
    sim = simulator.Simulator(sims, grid, transport, rate=1e9)
    sim.tick(len(sims))  # warm-up: one reading per vehicle, so the bridge has authenticated each one
    transport.flush(timeout=120)
    start.wait()
    began = time.perf_counter()
    for offset in range(0, count, 1000):
        sim.tick(min(1000, count - offset))
    transport.flush(timeout=120)
    transport.close()
    print(f"publisher: {count} readings published in {time.perf_counter() - began:.1f} s", file=sys.stderr)


BROKER_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
log_dest none
# As docs/telemetry-mqtt.md recommends for production: a burst waits in the broker instead of being dropped
# (the defaults allow 1,000 queued messages per client).
max_queued_messages 0
max_inflight_messages 0
"""


@contextmanager
def broker() -> Iterator[str]:
    """A Mosquitto of the benchmark's own on a free port (the shared one keeps the 1,000-message default queue and
    serves other users); falls back to ``MQTT_URL`` when no ``mosquitto`` binary is installed."""
    binary = shutil.which("mosquitto") or next((p for p in ("/usr/sbin/mosquitto",) if os.path.exists(p)), None)
    if binary is None:
        yield os.environ.get("MQTT_URL", "mqtt://127.0.0.1:1883")
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(BROKER_CONF.format(port=port))
        process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            yield f"mqtt://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)


def measure(vehicles: Sequence[Vehicle], *, messages: int = 60_000, publishers: int = 2,
            timeout_s: float = 300.0) -> dict[str, float]:
    """Readings/s through the MQTT bridge into the streams; the caller's Django points at the benchmark database."""
    with broker() as url:
        return _measure(vehicles, messages=messages, publishers=publishers, timeout_s=timeout_s, url=url)


def _measure(vehicles: Sequence[Vehicle], *, messages: int, publishers: int, timeout_s: float,
             url: str) -> dict[str, float]:
    from django.conf import settings

    from telemetry import mqtt, streams

    settings.MQTT_URL = url  # the publishers (forked) use it too
    topic_prefix = f"bench-{uuid.uuid4().hex[:8]}/"
    env = dict(os.environ, MQTT_URL=url, MQTT_TOPIC_PREFIX=topic_prefix,
               TELEMETRY_STREAM_PREFIX=settings.TELEMETRY_STREAM_PREFIX,
               BENCH_MQTT_DATABASE=settings.DATABASES["default"]["NAME"],
               BENCH_MQTT_CACHE_PREFIX=settings.CACHES["default"].get("KEY_PREFIX") or "")
    streams.client().delete(streams.key("mqtt"))
    bridge = subprocess.Popen([sys.executable, "-c", "from bench import _mqtt; _mqtt.bridge_main()"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, text=True)
    procs: list[Any] = []
    try:
        assert bridge.stdout is not None
        if bridge.stdout.readline().strip() != "ready":
            raise RuntimeError("the MQTT bridge did not start")
        context = multiprocessing.get_context("fork")
        start = context.Event()
        share = -(-messages // publishers)
        for k in range(publishers):
            part = list(vehicles[k::publishers])
            procs.append(context.Process(target=_publish, args=(part, min(share, messages - k * share),
                                                                 topic_prefix, start)))
        for proc in procs:
            proc.start()
        warm, deadline = len(vehicles), time.monotonic() + timeout_s
        while mqtt.bridge_stats().get("accepted", 0.0) < warm and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu_before = _cpu_s(bridge.pid)
        began = time.perf_counter()
        start.set()
        accepted, deadline = 0.0, time.monotonic() + timeout_s
        while accepted < messages and time.monotonic() < deadline:
            time.sleep(0.02)
            accepted = mqtt.bridge_stats().get("accepted", 0.0) - warm
        elapsed = time.perf_counter() - began
        cpu = _cpu_s(bridge.pid) - cpu_before
    finally:
        for proc in procs:
            proc.join(timeout=30)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=30)
    stats = mqtt.bridge_stats()
    return {"mqtt_msgs_per_s": common.rate(int(accepted), elapsed),
            "mqtt_bridge_cpu_msgs_per_s": common.rate(int(accepted), cpu),
            "mqtt_messages": accepted, "mqtt_lost": messages - accepted,
            "mqtt_refused": stats.get("rejected", 0.0) + stats.get("auth_failed", 0.0)}


def bridge_main() -> None:
    """The bridge process of ``measure``: the benchmark's database and cache prefix, a clean session."""
    common.setup_django()
    common.point_django_at(os.environ["BENCH_MQTT_DATABASE"], os.environ["BENCH_MQTT_CACHE_PREFIX"])
    from telemetry import mqtt

    sys.setswitchinterval(0.001)  # as manage.py telemetry_mqtt does
    bridge = mqtt.Bridge(client_id=f"bench-bridge-{os.getpid()}", clean_session=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *args: stop.set())
    bridge.start()
    if not bridge.subscribed.wait(10):
        raise SystemExit("bridge: no subscription")
    print("ready", flush=True)
    bridge.run(stop)


def main() -> dict[str, float]:
    messages = int(os.environ.get("BENCH_MQTT_MESSAGES", "60000"))
    n = int(os.environ.get("BENCH_MQTT_VEHICLES", "2000"))
    with common.django_database("mqtt"):
        from django.conf import settings

        settings.TELEMETRY_STREAM_PREFIX = common.bench_name("mqtt")
        try:
            figures = measure(create_vehicles(n), messages=messages,
                              publishers=int(os.environ.get("BENCH_MQTT_PUBLISHERS", "2")))
        finally:
            common.delete_redis_keys(os.environ["REDIS_URL"], settings.TELEMETRY_STREAM_PREFIX)
    print(f"MQTT bridge: {figures['mqtt_messages']:.0f} readings, {figures['mqtt_msgs_per_s']:,.0f}/s wall "
          f"({figures['mqtt_bridge_cpu_msgs_per_s']:,.0f}/s per core of bridge CPU), lost {figures['mqtt_lost']:.0f}")
    return figures


if __name__ == "__main__":
    result = main()
    print(json.dumps(result, sort_keys=True), flush=True)
