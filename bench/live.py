"""``python -m bench live``: WebSockets at fleet scale on real Daphne processes and the real Redis channel layer.

A database of its own (``bench_live_<pid>``) gets a city with an operating area, a tariff, ``BENCH_LIVE_VEHICLES``
vehicles and ``BENCH_LIVE_RIDERS`` riders, each with a ride started and unlocked through ``rides.services``.
Daphne serves ``config.asgi`` as the Procfile's ``ws`` process does; the sockets are opened by client processes
with the ``websockets`` library, with the riders' real JWTs, answering pings as the protocol asks.

1. Capacity: ONE Daphne process holds ``BENCH_LIVE_IDLE_SOCKETS`` ``/ws/v1/me`` sockets; every user then gets one
   notification through ``core.push.to_user``. ``sockets_per_process`` counts the sockets that received it;
   ``bytes_per_socket`` is the growth of Daphne's resident memory divided by the sockets held.
2. Latency: ``BENCH_LIVE_DAPHNES`` Daphne processes hold one ride socket per rider plus
   ``BENCH_LIVE_FLEET_SOCKETS`` ops fleet sockets (whole city). The feed (``BENCH_LIVE_FEED``) sends
   ``BENCH_LIVE_RATE`` vehicle messages/s, round robin over the vehicles:
   - ``telemetry`` (default): the real pipeline. Two producer processes hand the messages of each 20 ms tick to
     ``telemetry.ingest.ingest_many`` (the entry of the HTTP and MQTT edges, which accept batches too), each
     message with its own ``ts`` = accept time = now; ``BENCH_LIVE_DRAINERS`` drainer processes run
     ``telemetry.pipeline.drain`` (what the ``telemetry`` Celery queue runs): COPY, latest state, reactions, and
     the live pushes after commit. Latency = socket receive time - the message's ``ts`` (accepted at ingest).
     The feed starts once every worker process is up (then 5 s of warm-up before the window).
     ``pipeline_commit_p50_ms`` / ``_p99_ms`` (accept -> commit, the drainers' own histogram over the window)
     tell which side the lag is on: the rest of ``push_p50/p99`` is Redis pub/sub, Daphne and the clients.
   - ``push``: worker processes call ``core.push.fleet_positions`` / ``to_ride`` directly at the same rate
     (the socket side alone).
   ``push_p50_ms`` / ``push_p99_ms`` are over the ``ride.updated`` messages received in the measured window;
   ``push_p99_ms_by_second`` is the p99 of each second of it (by receive time: a hump or a stall shows where).
   The ridden vehicles are the first of each producer's round, so their readings come in bursts (the first
   0.4 s of every 2 s at the default rate): seconds without any are ``null``.
   ``cpu_cores``: the CPU each kind of process used over the window (Daphne, drainers, producers, clients,
   PostgreSQL, Redis, the whole machine, and ``steal``: what the hypervisor took from this machine), in cores;
   ``daphne_cpu_us_per_ride_update`` divides Daphne's by the ``ride.updated`` delivered (its fleet messages and
   pings included).
3. Ends: right after the window, while the feed still runs, two worker processes (started with the others) end
   every ride: they push the ``ride.ended`` that ``rides.services`` pushes (``BENCH_LIVE_END=push``, default) or
   end the rides through ``rides.services.ride_end_now`` (``service``, the whole path, much slower). The clients
   then wait up to 60 s: ``lost_ride_ended`` counts open rider sockets that never received their ``ride.ended``,
   ``ride_ended_last_s`` is when the last one came (from the first end), ``ends_pushed_s`` how long ending took.

``host_cpu_ms`` (``bench.common.host_cpu_ms``, measured first): the CPU this host needs for a fixed piece of Python
today. The latency target is absolute and the same code has run twice as slow on a busy day: compare runs of
different days with it.

Environment: BENCH_LIVE_RIDERS (2000), BENCH_LIVE_VEHICLES (10000), BENCH_LIVE_RATE (5000), BENCH_LIVE_SECONDS
(20), BENCH_LIVE_IDLE_SOCKETS (5000), BENCH_LIVE_DAPHNES (2), BENCH_LIVE_FLEET_SOCKETS (2), BENCH_LIVE_FEED
(telemetry|push), BENCH_LIVE_CLIENTS (client processes, 2), BENCH_LIVE_DRAINERS (4), CHANNEL_LAYER_BACKEND
(pubsub|core).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import resource
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from bench import common

LAT, LON = 52.52, 13.405


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# --- setup -------------------------------------------------------------------------------------------------


def _setup(riders: int, vehicles: int) -> dict[str, Any]:
    """City, zone, tariff, vehicles at simulator street positions, riders with a card and an active ride."""
    import datetime as dt
    import random

    from django.conf import settings
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from billing.services import methods
    from config.celery import app
    from fleet import grid
    from fleet import services as fleet_services
    from fleet.models import Vehicle
    from telemetry.simulator import StreetGrid, place

    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"  # the bench acknowledges the unlocks itself
    app.conf.task_always_eager = True  # command tasks run inline instead of piling up in the broker
    city, vtype = common.ride_city("bench-live")
    street = StreetGrid(LAT, LON)
    rng = random.Random(7)
    rows, positions = [], []
    for i in range(vehicles):
        lat, lon = street.position(place(street, None, None, rng).node)
        positions.append((lat, lon))
        # Bench fixture: vehicles are created deployed (status available) in one statement; a ride's
        # vehicle then changes status only through the services (start, unlock ack).
        rows.append(Vehicle(code=f"L{i:06d}", imei=f"98{i:013d}", vehicle_type=vtype, city=city, status="available",
                            battery_pct=90, lat=lat, lon=lon, cell=grid.cell_of(lat, lon)))
    Vehicle.objects.bulk_create(rows, batch_size=2000)
    codes = [r.code for r in rows]
    ids = dict(Vehicle.objects.filter(city=city).values_list("code", "id"))
    users = User.objects.bulk_create(
        [User(email=f"live{i}@example.com", password="!", date_of_birth=dt.date(1990, 1, 1)) for i in range(riders)],
        batch_size=2000)
    for user in users:
        methods.payment_method_add(user=user, token="tok_visa")

    def start(i: int) -> str:
        from django.db import connection

        from rides import services as ride_services

        try:
            ride = ride_services.ride_start(rider=users[i], code=codes[i])
            fleet_services.command_ack(command_id=ride.unlock_command_id, ok=True)
            return str(ride.id)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        ride_ids = list(pool.map(start, range(riders)))
    return {
        "city": str(city.id), "rides": ride_ids, "users": [str(u.id) for u in users],
        "tokens": [_token(AccessToken, u) for u in users],
        "vehicles": [(str(ids[c]), c, lat, lon, i < riders)
                     for i, (c, (lat, lon)) in enumerate(zip(codes, positions, strict=True))],
        "staff_token": _staff_token(),
    }


def _token(token_class: Any, user: Any) -> str:
    token = token_class.for_user(user)
    token.set_exp(lifetime=dt_hours(2))  # outlives the bench (sockets close with 4001 at expiry)
    return str(token)


def dt_hours(hours: int) -> Any:
    from datetime import timedelta

    return timedelta(hours=hours)


def _staff_token() -> str:
    from django.contrib.auth.models import Group
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User

    staff = User.objects.create_user(email="ops@example.com", password=None, is_staff=True)
    staff.groups.add(Group.objects.get(name="fleet_manager"))
    from fleet import services as fleet_services

    fleet_services.staff_cities_set(user=staff, cities=[], all_cities=True, by=None)  # staff see no city otherwise
    return _token(AccessToken, staff)


# --- processes ---------------------------------------------------------------------------------------------


def _child_django(database: str) -> None:
    """In a spawned process: Django on the bench database and Redis prefix (the parent's environment)."""
    common.setup_django()
    common.point_django_at(database, database)
    from django.conf import settings

    settings.TELEMETRY_STREAM_PREFIX = f"{database}:telemetry"
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"
    from config.celery import app
    from core.gc import freeze_startup_objects

    app.conf.task_always_eager = True
    # As the Celery worker processes the drainers stand for do (config.celery): without it a full collection of
    # the start-up objects stalled a batch for 200+ ms now and then.
    freeze_startup_objects()





def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cpu_by_role(roles: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each role's processes, plus PostgreSQL's and Redis's servers
    (every process of that name: the benchmark has the machine to itself)."""
    import psutil

    def used(pids: Any) -> float:
        return sum(common.cpu_seconds(pid) or 0.0 for pid in pids if pid)

    totals = {role: used(pids) for role, pids in roles.items()}
    for role, name in (("postgres", "postgres"), ("redis", "redis-server")):
        totals[role] = used(p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name)
    times = psutil.cpu_times()
    totals["machine"] = float(sum(times[:3]))  # user + nice + system of every core
    # Time the hypervisor gave this machine's cores to someone else: a host that runs the same code slower
    # shows here (0 where the kernel does not report it).
    totals["steal"] = float(getattr(times, "steal", 0.0))
    return totals


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- socket clients ----------------------------------------------------------------------------------------


def _client(sockets: list[tuple[str, str]], out: Any, go: Any, window: Any) -> None:
    """A client process: opens ``sockets`` (url, token), answers pings, records what arrives; reports once."""
    _raise_fd_limit()
    asyncio.run(_client_main(sockets, out, go, window))


async def _client_main(sockets: list[tuple[str, str]], out: Any, go: Any, window: Any) -> None:
    from websockets.asyncio.client import connect

    stats: dict[str, Any] = {"connected": 0, "failed": 0, "latencies": [], "received_s": [],
                             "ended": 0, "notified": 0,
                             "fleet_msgs": 0, "fleet_vehicles": 0, "closed": 0, "types": {}, "codes": {},
                             "ride_sockets": 0, "ended_after_s": 0.0}
    conns: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    # Handshakes are ramped (50 at a time per client process) with a generous timeout: the figure is how many
    # sockets a process holds, not how fast a busy machine accepts them.
    limit = asyncio.Semaphore(50)

    async def open_one(url: str, token: str) -> None:
        async with limit:
            try:
                ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=120,
                                   ping_interval=None, max_queue=None, compression=None, max_size=None)
                json.loads(await asyncio.wait_for(ws.recv(), 120))  # the snapshot
                conns.append(ws)
                # Read (and answer pings) from the start: a socket that leaves pings unanswered is closed by
                # the server (4008), as it should be.
                readers.append(asyncio.create_task(read(ws)))
                stats["connected"] += 1
                stats["ride_sockets"] += "/ws/v1/rides/" in url
            except Exception as exc:  # noqa: BLE001 - counted
                stats["failed"] += 1
                stats["codes"][type(exc).__name__] = stats["codes"].get(type(exc).__name__, 0) + 1

    async def read(ws: Any) -> None:
        ended = False
        try:
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                kind = message["type"]
                stats["types"][kind] = stats["types"].get(kind, 0) + 1
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong", "seq": message["seq"]}))
                elif kind == "ride.updated":
                    at = message["data"].get("at")
                    if at and window[0] <= now <= window[1]:
                        latency = (now - datetime.fromisoformat(at).timestamp()) * 1000
                        stats["latencies"].append(latency)
                        stats["received_s"].append(now - window[0])
                elif kind == "ride.ended" and not ended:
                    ended = True
                    stats["ended"] += 1
                    if window[3]:
                        stats["ended_after_s"] = max(stats["ended_after_s"], now - window[3])
                elif kind == "notification":
                    stats["notified"] += 1
                elif kind == "fleet.positions":
                    stats["fleet_msgs"] += 1
                    stats["fleet_vehicles"] += len(message["data"]["vehicles"])
        except Exception:  # noqa: BLE001 - a closed socket ends its reader
            pass
        if time.time() < window[2]:  # closed by the server before the end
            stats["closed"] += 1
            code = str(ws.close_code)
            stats["codes"][code] = stats["codes"].get(code, 0) + 1

    await asyncio.gather(*(open_one(url, token) for url, token in sockets))
    out.put(("connected", stats["connected"], stats["failed"]))
    await asyncio.get_running_loop().run_in_executor(None, go.wait)

    while time.time() < window[2]:
        if window[3] and stats["ride_sockets"] and stats["ended"] >= stats["ride_sockets"]:
            break  # every ride socket has its ride.ended: nothing more to wait for
        await asyncio.sleep(0.2)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    out.put(("stats", stats))


def _start_clients(sockets: list[tuple[str, str]], procs: int) -> tuple[list[Any], Any, Any, Any]:
    ctx = mp.get_context("spawn")
    out, go, window = ctx.Queue(), ctx.Event(), ctx.Array("d", [0.0, 0.0, 1e12, 0.0], lock=False)
    clients = [ctx.Process(target=_client, args=(sockets[i::procs], out, go, window)) for i in range(procs)]
    for c in clients:
        c.start()
    connected = failed = 0
    for _ in clients:
        _, ok, bad = out.get(timeout=900)
        connected, failed = connected + ok, failed + bad
    print(f"  {connected} sockets open, {failed} refused or failed", flush=True)
    return clients, out, go, window


def _collect(clients: list[Any], out: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {"latencies": [], "received_s": []}
    for _ in clients:
        _, stats = out.get(timeout=120)
        for key, value in stats.items():
            if key in ("latencies", "received_s"):
                merged[key] += value
            elif key == "ended_after_s":
                merged[key] = max(merged.get(key, 0.0), value)
            elif key in ("types", "codes"):
                merged[key] = {k: merged.get(key, {}).get(k, 0) + value.get(k, 0)
                               for k in {*merged.get(key, {}), *value}}
            else:
                merged[key] = merged.get(key, 0) + value
    for c in clients:
        c.join(timeout=30)
    return merged


# --- feeds -------------------------------------------------------------------------------------------------


def _producer(database: str, city: str, vehicles: list[Any], rides: dict[str, str], rate: float, until: Any,
              feed: str, sent_out: Any, ready: Any, start: Any) -> None:
    """Sends ``rate`` messages/s round robin over ``vehicles`` from ``start`` until ``until.value`` (epoch);
    reports how many."""
    _child_django(database)
    import random

    from telemetry.simulator import Behaviour, SimVehicle, StreetGrid, place, step

    street, rng = StreetGrid(LAT, LON), random.Random(os.getpid())
    behaviour = Behaviour(alarm_rate=0.0)
    sims = []
    for vid, code, lat, lon, riding in vehicles:
        sim = SimVehicle(id=uuid.UUID(vid), code=code, secret="", walker=place(street, lat, lon, rng), seq=0,
                         remote=True, riding=riding, locked=not riding)
        sims.append((sim, riding))
    if feed == "telemetry":
        from telemetry import ingest
    else:
        from core import push
    ready.put("producer")
    start.wait()
    sent, skipped, started, i, tick = 0, 0, time.monotonic(), 0, 0.02
    while time.time() < until.value:
        due = int((time.monotonic() - started) * rate) - sent - skipped
        if due > rate * 0.5:  # fell behind (busy machine): drop the backlog, the achieved rate is reported
            skipped += due - int(rate * 0.1)
            due = int(rate * 0.1)
        batch, accepted = [], []
        for _ in range(max(0, due)):
            sim, riding = sims[i % len(sims)]
            i += 1
            now = time.time()
            message = step(sim, street, behaviour, rng, now)
            if feed == "telemetry":
                # Handed over as the edges do (MQTT bridge, HTTP batches): the messages of this tick in one
                # ingest_many, each with its own ts and accept time (now), so latency still counts from there.
                accepted.append((sim.id, [message], now))
            else:
                at = datetime.fromtimestamp(now).astimezone().isoformat()
                position = {"id": str(sim.id), "code": sim.code, "lat": message["lat"], "lon": message["lon"],
                            "status": "on_trip" if riding else "available", "battery_pct": message["battery_pct"],
                            "at": at}
                batch.append(position)
                ride_id = rides.get(str(sim.id))
                if ride_id:
                    push.to_ride(uuid.UUID(ride_id), "ride.updated", {k: position[k] for k in
                                                                      ("lat", "lon", "battery_pct", "at")})
            sent += 1
        if accepted:
            ingest.ingest_many(accepted)
        if batch:
            push.fleet_positions(uuid.UUID(city), batch)
        time.sleep(tick)
    sent_out.put((sent, time.monotonic() - started))


def _drainer(database: str, until: Any, ready: Any) -> None:
    _child_django(database)
    from telemetry import pipeline

    ready.put("drainer")
    while time.time() < until.value:
        pipeline.drain(budget_s=1.0)


def _ender(database: str, rides: list[str], how: str, ready: Any, go: Any) -> None:
    """End the rides: through ``rides.services.ride_end_now`` (``service``: the whole path, but on a busy 2-core
    machine that took 18 minutes for 2,000 rides) or by pushing the ``ride.ended`` rides would push (``push``).
    Started with the other workers (Django loaded before the window), it waits for ``go``."""
    _child_django(database)
    from core import push
    from rides import services

    ready.put("ender")
    go.wait()
    for ride_id in rides:
        if how == "service":
            services.ride_end_now(ride_id=uuid.UUID(ride_id), reason="ops", note="bench")
        else:
            push.to_ride(uuid.UUID(ride_id), "ride.ended", {"total": "1.00", "currency": "EUR", "duration_s": 60,
                                                           "distance_m": 0, "end_reason": "ops"})


# --- phases ------------------------------------------------------------------------------------------------


def _capacity(database: str, data: dict[str, Any], sockets: int, procs: int) -> dict[str, Any]:
    import psutil

    from core import push

    process, port = common.serve_daphne(database)
    try:
        time.sleep(2)
        rss_before = psutil.Process(process.pid).memory_info().rss
        tokens = data["tokens"]
        plan = [(f"ws://127.0.0.1:{port}/ws/v1/me", tokens[i % len(tokens)]) for i in range(sockets)]
        clients, out, go, window = _start_clients(plan, procs)
        time.sleep(2)
        rss_after = psutil.Process(process.pid).memory_info().rss
        window[0], window[1], window[2] = 0.0, 0.0, time.time() + 7200
        go.set()
        time.sleep(1)
        for user_id in data["users"]:
            push.to_user(uuid.UUID(user_id), "notification", {"title": "bench"})
        window[2] = time.time() + 20  # a busy machine delivers thousands of messages in seconds, not at once
        stats = _collect(clients, out)
    finally:
        _stop(process)
    held = int(stats["notified"])
    return {"sockets_per_process": held, "sockets_attempted": sockets,
            "bytes_per_socket": round((rss_after - rss_before) / max(1, stats["connected"])),
            "daphne_rss_mb": round(rss_after / 2**20, 1)}


def _latency(database: str, data: dict[str, Any], *, daphnes: int, fleet_sockets: int, rate: float,
             seconds: float, feed: str, procs: int, drainers: int) -> dict[str, Any]:
    from telemetry import status

    ctx = mp.get_context("spawn")
    servers = [common.serve_daphne(database) for _ in range(daphnes)]
    workers: list[Any] = []
    enders: list[Any] = []
    end = ctx.Event()
    try:
        plan = [(f"ws://127.0.0.1:{servers[i % daphnes][1]}/ws/v1/rides/{ride}", data["tokens"][i])
                for i, ride in enumerate(data["rides"])]
        plan += [(f"ws://127.0.0.1:{servers[i % daphnes][1]}/ws/v1/fleet?city={data['city']}", data["staff_token"])
                 for i in range(fleet_sockets)]
        clients, out, go, window = _start_clients(plan, procs)
        until, sent_out = ctx.Value("d", time.time() + 7200.0, lock=False), ctx.Queue()
        ready, start = ctx.Queue(), ctx.Event()
        window[0], window[1], window[2] = 0.0, 0.0, time.time() + 7200.0  # nothing measured yet
        go.set()
        n_producers = 2
        vehicles = data["vehicles"]
        ride_of = {vehicles[i][0]: ride for i, ride in enumerate(data["rides"])}  # rider i rides vehicle i
        for p in range(n_producers):
            workers.append(ctx.Process(target=_producer, args=(
                database, data["city"], vehicles[p::n_producers], ride_of, rate / n_producers, until, feed,
                sent_out, ready, start)))
        if feed == "telemetry":
            workers += [ctx.Process(target=_drainer, args=(database, until, ready)) for _ in range(drainers)]
        how = os.environ.get("BENCH_LIVE_END", "push")
        enders += [ctx.Process(target=_ender, args=(database, data["rides"][k::2], how, ready, end)) for k in range(2)]
        for w in workers + enders:
            w.start()
        # The feed starts once every worker has Django loaded (spawning them took 20 s on a busy machine: the
        # backlog the producers built meanwhile was measured as latency), then 5 s of warm-up.
        for _ in workers + enders:
            ready.get(timeout=300)
        start.set()
        t0 = time.time() + 5.0
        window[0], window[1] = t0, t0 + seconds
        time.sleep(max(0.0, t0 - time.time()))
        status.reset_counters()  # the pipeline's own figures (accept -> commit) over the measured window
        roles = {"daphne": [p.pid for p, _ in servers], "drainers": [w.pid for w in workers[n_producers:]],
                 "producers": [w.pid for w in workers[:n_producers]], "clients": [c.pid for c in clients]}
        cpu_before, wall_before = _cpu_by_role(roles), time.monotonic()
        time.sleep(max(0.0, t0 + seconds - time.time()))
        cpu_after, wall = _cpu_by_role(roles), time.monotonic() - wall_before
        pipeline = status.snapshot()
        print(f"  ending every ride ({how})", flush=True)
        window[3] = time.time()
        end.set()
        for e in enders:
            e.join()
        ends_pushed_s = time.time() - window[3]
        # The feed stops 3 s later; the clients stop once every ride socket has its ride.ended, or after 60 s: a
        # ride.ended that comes late is counted in ride_ended_last_s, only one that never comes is lost.
        print(f"  ends pushed in {ends_pushed_s:.0f} s; waiting up to 60 s for the last ride.ended", flush=True)
        until.value, window[2] = time.time() + 3, time.time() + 60
        sent = [sent_out.get(timeout=120) for _ in range(n_producers)]
        stats = _collect(clients, out)
    finally:
        end.set()
        for w in workers + enders:
            w.join(timeout=60)
            if w.is_alive():
                w.terminate()
        for process, _ in servers:
            _stop(process)
    latencies = stats["latencies"]
    cores = {role: round((cpu_after[role] - cpu_before[role]) / wall, 3) for role in cpu_after}
    figures = common.percentiles(latencies) if latencies else {"p50": None, "p99": None}
    # The second half of the window alone: steady state, a start-up hump has passed.
    late_half = [lat for lat, received in zip(latencies, stats["received_s"], strict=True) if received >= seconds / 2]
    late = common.percentiles(late_half) if late_half else {"p50": None, "p99": None}
    # p99 of each second of the window (by receive time): a hump, a stall or a slow drift shows where it is.
    by_second: dict[int, list[float]] = {}
    for latency, received in zip(latencies, stats["received_s"], strict=True):
        by_second.setdefault(int(received), []).append(latency)
    p99_by_second = [round(common.percentiles(by_second[s])["p99"]) if s in by_second else None
                     for s in range(int(seconds))]
    return {"push_p50_ms": figures["p50"], "push_p99_ms": figures["p99"], "ride_updates_measured": len(latencies),
            "push_p50_ms_second_half": late["p50"], "push_p99_ms_second_half": late["p99"],
            "push_p99_ms_by_second": p99_by_second,
            "ride_updates_per_s": common.rate(len(latencies), seconds),
            # Rider sockets that were open and never got their ride.ended (sockets that never opened are reported
            # apart, as rider_sockets - rider_sockets_open).
            "lost_ride_ended": int(stats["ride_sockets"]) - int(stats["ended"]),
            "rider_sockets": len(data["rides"]),
            "sockets_closed_early": int(stats["closed"]), "fleet_messages": int(stats["fleet_msgs"]),
            "fleet_vehicle_updates": int(stats["fleet_vehicles"]), "messages_by_type": stats.get("types", {}),
            "close_codes": stats.get("codes", {}),
            "feed_msgs_s_achieved": round(sum(n for n, _ in sent) / max(s for _, s in sent), 1),
            "rider_sockets_open": int(stats["ride_sockets"]), "ends_via": how,
            # From the first end pushed: how long pushing every ride's end took, and when the last ride.ended came.
            "ends_pushed_s": round(ends_pushed_s, 1), "ride_ended_last_s": round(float(stats["ended_after_s"]), 1),
            # Which side the lag is on: accept -> commit in the drainers (the pushes leave right after), the
            # rest of push_p50/p99 is the socket side (Redis pub/sub, Daphne, the client processes).
            "pipeline_commit_p50_ms": pipeline["latency_ms_p50"] if feed == "telemetry" else None,
            "pipeline_commit_p99_ms": pipeline["latency_ms_p99"] if feed == "telemetry" else None,
            "pipeline_avg_batch": pipeline["avg_batch_size"], "pipeline_avg_batch_ms": pipeline["avg_batch_ms"],
            "pipeline_backlog_end": pipeline["backlog"],
            # CPU over the window, in cores (1.0 = one core busy all the time), per kind of process; Daphne's
            # microseconds of CPU per ride.updated delivered (fleet messages and pings included in the cost).
            "cpu_cores": cores,
            "daphne_cpu_us_per_ride_update":
                round(cores["daphne"] * wall * 1e6 / len(latencies)) if latencies else None}


def main() -> dict[str, Any]:
    _raise_fd_limit()
    riders, vehicles = _env_int("BENCH_LIVE_RIDERS", 2000), _env_int("BENCH_LIVE_VEHICLES", 10_000)
    rate, seconds = float(_env_int("BENCH_LIVE_RATE", 5000)), float(_env_int("BENCH_LIVE_SECONDS", 20))
    idle, daphnes = _env_int("BENCH_LIVE_IDLE_SOCKETS", 5000), _env_int("BENCH_LIVE_DAPHNES", 2)
    feed, procs = os.environ.get("BENCH_LIVE_FEED", "telemetry"), _env_int("BENCH_LIVE_CLIENTS", 2)
    fleet_sockets = _env_int("BENCH_LIVE_FLEET_SOCKETS", 2)
    # 2 Daphne processes and 4 drainers share the 2 cores with the producers, the clients and PostgreSQL (one Daphne
    # process with 2,000 sockets, or 6 drainers taking tiny batches, left the sockets seconds behind: docs/live.md).
    drainers = _env_int("BENCH_LIVE_DRAINERS", 4)
    from django.conf import settings

    # How fast this host runs the same Python today (the latency target is absolute, and the same code has run at
    # half the speed on a busy afternoon): read the figures of different days with it.
    host_ms = common.host_cpu_ms()
    print(f"host: {host_ms} ms of CPU for the fixed Python workload (bench.common.host_cpu_ms)", flush=True)

    with common.django_database("live") as database:
        settings.TELEMETRY_STREAM_PREFIX = f"{database}:telemetry"
        from telemetry import streams, tasks

        streams.ensure_groups()
        tasks.partitions_ensure()
        with common.Timer() as t:
            data = _setup(riders, max(vehicles, riders))
        print(f"live: {riders} riders with an active ride, {max(vehicles, riders)} vehicles "
              f"({t.wall_s:.0f} s setup); layer {settings.CHANNEL_LAYER_BACKEND}, feed {feed}", flush=True)
        figures: dict[str, Any] = {"channel_layer": settings.CHANNEL_LAYER_BACKEND, "feed": feed,
                                   "daphne_processes": daphnes, "rate_msgs_s": rate, "drainers": drainers,
                                   "host_cpu_ms": host_ms}
        if idle:
            print(f"capacity: {idle} idle sockets on one Daphne process", flush=True)
            figures |= _capacity(database, data, idle, procs)
            print(f"  held {figures['sockets_per_process']}, {figures['bytes_per_socket']} bytes/socket", flush=True)
        print(f"latency: {riders} ride sockets, {fleet_sockets} fleet sockets, {rate:g} msgs/s for {seconds:g} s",
              flush=True)
        figures |= _latency(database, data, daphnes=daphnes, fleet_sockets=fleet_sockets, rate=rate,
                            seconds=seconds, feed=feed, procs=procs, drainers=drainers)
        print(f"  ride.updated p50 {figures['push_p50_ms']} ms, p99 {figures['push_p99_ms']} ms "
              f"({figures['ride_updates_measured']} measured), lost ride.ended {figures['lost_ride_ended']} "
              f"(the last came {figures['ride_ended_last_s']} s after the first end)", flush=True)
        print("  p99 by second (ms): " + " ".join(str(v) for v in figures["push_p99_ms_by_second"]), flush=True)
        print("  CPU over the window (cores): " + ", ".join(f"{role} {n}" for role, n in figures["cpu_cores"].items())
              + f"; Daphne {figures['daphne_cpu_us_per_ride_update']} us per ride.updated", flush=True)
    return figures
