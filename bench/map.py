"""``python -m bench map``: the admin's live fleet map of a 10,000-vehicle city, first render in Chromium.

A database of its own (``bench_map_<pid>``) gets a city of ``BENCH_MAP_VEHICLES`` vehicles (default 10,000)
spread around a centre (a normal distribution, ~3 km sigma, as a real fleet thins out towards the edges) and a
fleet manager. The production topology serves it: granian (``config.wsgi``, DEBUG off) the page, the ticket and
``/static/`` (collected to a temporary folder, as the Dockerfile does), one Daphne the fleet socket
(``CONSOLE_MAP_SOCKET_ORIGIN``). No map tiles (``MAP_TILE_URL`` empty): the figure is ours, not a tile server's.

Playwright drives Debian's chromium (``CHROMIUM_PATH`` or ``chromium``), signed in as the fleet manager with a
session made by Django's test client; each of ``BENCH_MAP_RUNS`` (default 5) runs is a fresh browser context
(cold cache) that opens ``/admin/map/?city=...`` and waits until the page has drawn the socket's whole snapshot
(``#fw-map[data-ready]``, set after the last ``snapshot.part``).

Figures: ``map_first_render_ms_p50`` / ``_max``: from the start of navigation (the browser's ``timeOrigin``) to
drawn; ``map_socket_ms_p50``: from the end of the ticket response to drawn (socket handshake, snapshot query,
grid, transfer, drawing); ``map_page_ms_p50``: navigation to the page's DOMContentLoaded; ``map_mode``,
``map_cells`` and ``map_vehicles_in_view`` what the first view showed. Target: < 2,000 ms first render.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import uuid
from typing import Any

from bench import common

LAT, LON = 48.137, 11.575
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


def _setup(vehicles: int) -> tuple[Any, Any]:
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from fleet import grid
    from fleet.models import City, Vehicle, VehicleType
    from fleet.states import Status

    city = City.objects.create(slug="bench-map", name="Bench map", timezone="Europe/Berlin", currency="EUR")
    vehicle_type = VehicleType.objects.create(code="bench-scooter", name="Scooter", form_factor="scooter",
                                              propulsion_type="electric", max_range_meters=40_000)
    rnd = random.Random(7)
    statuses = [Status.AVAILABLE] * 14 + [Status.ON_TRIP, Status.ON_TRIP, Status.LOW_BATTERY, Status.MAINTENANCE,
                                          Status.NON_CONTACTABLE, Status.RESERVED]
    now = time.time()
    from django.utils import timezone

    at = timezone.now()
    rows = []
    for i in range(vehicles):
        lat, lon = LAT + rnd.gauss(0, 0.03), LON + rnd.gauss(0, 0.045)
        status = rnd.choice(statuses)
        rows.append(Vehicle(code=f"BM{i:06d}", imei=f"98{i:013d}", vehicle_type=vehicle_type, city=city,
                            status=status, battery_pct=rnd.randint(3, 100), lat=lat, lon=lon,
                            cell=grid.cell_of(lat, lon), position_at=at,
                            trip_id=uuid.uuid4() if status in (Status.ON_TRIP, Status.RESERVED) else None))
    Vehicle.objects.bulk_create(rows, batch_size=2000)
    print(f"  {vehicles} vehicles in {time.time() - now:.1f} s", flush=True)
    user = User.objects.create(email="bench-map@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.FLEET_MANAGER))
    from fleet import services as fleet_services

    fleet_services.staff_cities_set(user=user, cities=[], all_cities=True, by=None)  # staff see no city otherwise
    return city, user




def _session_cookie(user: Any) -> tuple[str, str]:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


_TIMING = """() => { const n = performance.getEntriesByType("navigation")[0];
  const ticket = performance.getEntriesByType("resource").find(r => r.name.endsWith("/admin/map/ticket"));
  const ready = Number(document.getElementById("fw-map").dataset.ready) - performance.timeOrigin;
  return {ready: ready, page: n.domContentLoadedEventEnd, socket: ticket ? ready - ticket.responseEnd : null,
          mode: document.getElementById("fw-map").dataset.mode, cells: window.fwMap.cells.size,
          status: document.getElementById("fw-map-status").textContent}; }"""


def _measure(base: str, city_slug: str, cookie: tuple[str, str], runs: int) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright

    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if path is None:
        raise SystemExit("bench map needs chromium (apt-get install chromium) or CHROMIUM_PATH")
    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=BROWSER_ARGS)
        for _ in range(runs + 1):  # the first run warms the servers (imports, connections) and is not counted
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base}])
            page = context.new_page()
            page.goto(f"{base}/admin/map/?city={city_slug}")
            page.wait_for_selector("#fw-map[data-ready]", timeout=60_000)
            results.append(page.evaluate(_TIMING))
            context.close()
        browser.close()
    return results[1:]


def main() -> dict[str, Any]:
    vehicles = int(os.environ.get("BENCH_MAP_VEHICLES", 10_000))
    runs = int(os.environ.get("BENCH_MAP_RUNS", 5))
    host_cpu = common.host_cpu_ms()
    with common.django_database("map") as database, tempfile.TemporaryDirectory() as static_root:
        from django.conf import settings
        from django.core.management import call_command

        city, user = _setup(vehicles)
        settings.STATIC_ROOT = static_root
        call_command("collectstatic", interactive=False, verbosity=0)
        daphne, ws_port = common.serve_daphne(database, env={"ALLOWED_HOSTS": "127.0.0.1"})
        http_port = common.free_port()
        web = common.serve_wsgi(database, http_port, workers=2, threads=4, env={
            "GRANIAN_STATIC_PATH_MOUNT": static_root, "CONSOLE_MAP_SOCKET_ORIGIN": f"ws://127.0.0.1:{ws_port}",
            "MAP_TILE_URL": "", "SECURE_COOKIES": "0", "CHANNEL_LAYER_PREFIX": database})
        try:
            results = _measure(f"http://127.0.0.1:{http_port}", city.slug, _session_cookie(user), runs)
        finally:
            common.stop(web)
            common.stop(daphne)
    ready = [r["ready"] for r in results]
    print(f"  last run: {results[-1]['status']}", flush=True)
    return {
        "vehicles": vehicles, "runs": runs, "host_cpu_ms": host_cpu,
        "map_first_render_ms_p50": round(common.percentiles(ready, (50,))["p50"]),
        "map_first_render_ms_max": round(max(ready)),
        "map_socket_ms_p50": round(common.percentiles([r["socket"] for r in results], (50,))["p50"]),
        "map_page_ms_p50": round(common.percentiles([r["page"] for r in results], (50,))["p50"]),
        "map_mode": results[-1]["mode"], "map_cells": results[-1]["cells"],
        "map_vehicles_in_view": vehicles,
    }
