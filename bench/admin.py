"""``python -m bench admin``: the admin and the fleet map's first render at city scale.

1. Seed (``bench._admin_seed``): a database of its own, migrated, then 100k vehicles, 10M vehicle events, 1M rides,
   5M ledger entries, 50M telemetry readings (and commands, alerts, tasks, riders) written in SQL; the dashboard's
   hourly rollups are rebuilt over the seeded months, as the beat task keeps them. ``BENCH_ADMIN_SCALE`` (default
   1) scales every count (0.01 for a quick run).
2. Admin: granian serves ``config.wsgi`` (2 workers, as in production, DEBUG off); a superuser signs in through
   the login form. Every model of ``admin.site.get_app_list`` is requested: its changelist, one change page, the
   first choice of every filter in the changelist's sidebar (read from the page as a user clicks it), the first
   date-hierarchy step, and a search for a value of a real row; plus the dashboard (admin home, the map's city)
   and the admin's other pages linked from its header and sidebar (the fleet map's page, compliance).
   ``BENCH_ADMIN_REQUESTS`` (default 20) requests each, one at a time after one warm-up; p95 per page.
3. Map: Daphne serves ``config.asgi``; ``map_snapshot_ms`` is the time from opening ``/ws/v1/fleet?city=<Berlin,
   10k vehicles>`` to its last ``snapshot.part`` (the map's first render waits for it), p95 of
   ``BENCH_ADMIN_MAP_RUNS`` (default 10) sockets after one warm-up.

Targets (issue 21): every page p95 < 500 ms, map snapshot < 2 s. The last line's JSON names the slowest page.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg

from bench import common

TARGET_PAGE_MS = 500
TARGET_MAP_MS = 2000
PASSWORD = "bench-admin-password-1"


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


# --- pages ---------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    """The links of a changelist's filter sidebar (one list per filter, in order) and of its date hierarchy."""

    def __init__(self) -> None:
        super().__init__()
        self.filters: list[list[str]] = []
        self.dates: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "search" and attributes.get("id") == "changelist-filter":
            self._in = "filter"
        elif tag == "nav" and "toplinks" in (attributes.get("class") or "").split():
            self._in = "dates"
        elif tag == "ul" and self._in == "filter":
            self.filters.append([])
        elif tag == "a" and self._in and (attributes.get("href") or "").startswith("?"):
            href = html.unescape(attributes["href"] or "")
            if self._in == "filter" and self.filters:
                self.filters[-1].append(href)
            elif self._in == "dates":
                self.dates.append(href)

    def handle_endtag(self, tag: str) -> None:
        if (tag, self._in) in (("search", "filter"), ("nav", "dates")):
            self._in = None


def _page_plan(base: str, session: Any) -> list[tuple[str, str]]:
    """(name, path) of every admin page to time, found through the admin's public API and its own pages."""
    from django.contrib import admin
    from django.contrib.admin.utils import quote
    from django.test import RequestFactory
    from django.urls import reverse

    from accounts.models import User

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(email="bench-admin@example.com")
    plan: list[tuple[str, str]] = []
    for app in admin.site.get_app_list(request):
        for entry in app["models"]:
            model, label = entry["model"], f"{app['app_label']}.{entry['object_name'].lower()}"
            changelist = entry.get("admin_url")
            if not changelist:
                continue
            plan.append((f"{label} list", changelist))
            obj = model._default_manager.order_by().first()
            if obj is not None:
                change = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                                 args=[quote(obj.pk)])
                plan.append((f"{label} page", change))
            page = session.get(base + changelist)
            page.raise_for_status()
            links = _Links()
            links.feed(page.text)
            for choices in links.filters:
                real = [c for c in choices if c != "?"]
                if real:
                    plan.append((f"{label} list {real[0]}", changelist + real[0]))
            dates = [d for d in links.dates if d != "?"]
            if dates:
                plan.append((f"{label} list {dates[0]}", changelist + dates[0]))
            term = _search_term(admin.site.get_model_admin(model), obj)
            if term:
                plan.append((f"{label} search", changelist + "?" + urlencode({"q": term})))
    return plan


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith("/admin/"):
            self.hrefs.append(html.unescape(href))


def _linked_pages(base: str, session: Any, home: str, plan: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The admin's own pages that are not a model's (the fleet map, compliance, ...), as linked from the admin
    home's header and sidebar; each with the home's query (the map's city) when it has none."""
    known = {urlsplit(path).path for _, path in plan}
    page = session.get(base + home)
    page.raise_for_status()
    links = _Hrefs()
    links.feed(page.text)
    query = urlsplit(home).query
    found: list[tuple[str, str]] = []
    for href in dict.fromkeys(links.hrefs):
        path = urlsplit(href).path
        if path in known or any(skip in path for skip in ("logout", "password_change", "/add/", "/login")):
            continue
        if path.rstrip("/").count("/") > 3:  # a model's own page (history, change): not a page of the header
            continue
        known.add(path)
        found.append((f"page {path}", href if urlsplit(href).query or not query else f"{href}?{query}"))
    return found


def _search_term(model_admin: Any, obj: Any) -> str | None:
    """A value of ``obj`` for the first search field (what a user types: a code, an e-mail, an id)."""
    fields = list(getattr(model_admin, "search_fields", ()) or ())
    if not fields or obj is None:
        return None
    value: Any = obj
    for part in fields[0].lstrip("=^@").split("__"):
        if part == "exact":
            break
        value = getattr(value, part, None)
        if value is None:
            return None
    return str(value)


def _time_pages(base: str, session: Any, plan: list[tuple[str, str]], requests: int) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, path in plan:
        samples: list[float] = []
        status = 0
        for i in range(requests + 1):
            started = time.perf_counter()
            response = session.get(base + path)
            elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if i:  # the first one warms the worker and the caches
                samples.append(elapsed)
        p = common.percentiles(samples, (50, 95))
        results[name] = {"path": path, "status": status, "p50_ms": p["p50"], "p95_ms": p["p95"]}
        mark = "" if p["p95"] < TARGET_PAGE_MS else "  <-- over target"
        print(f"admin: {name:60.60} {status}  p50 {p['p50']:7.1f} ms  p95 {p['p95']:7.1f} ms{mark}", flush=True)
    return results


def _login(base: str) -> Any:
    import requests

    session = requests.Session()
    page = session.get(f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError("no CSRF token on the admin login page")
    done = session.post(f"{base}/admin/login/?next=/admin/", allow_redirects=False,
                        data={"csrfmiddlewaretoken": token.group(1), "username": "bench-admin@example.com",
                              "password": PASSWORD, "next": "/admin/"})
    if done.status_code != 302:
        raise RuntimeError(f"admin login refused ({done.status_code})")
    return session


# --- the map's snapshot ------------------------------------------------------------------------------------------




async def _snapshot_ms(url: str, token: str) -> tuple[float, int]:
    """Milliseconds from opening the socket to the last part of the snapshot, and the vehicles received."""
    from websockets.asyncio.client import connect

    started = time.perf_counter()
    vehicles = 0
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60,
                       max_size=None, compression=None, ping_interval=None) as ws:
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["type"] in ("snapshot", "snapshot.part"):
                vehicles += len(message["data"]["vehicles"])
                if not message["data"]["more"]:
                    return (time.perf_counter() - started) * 1000, vehicles


def _map_snapshot(database: str, city_id: str, token: str, runs: int) -> dict[str, Any]:
    process, port = common.serve_daphne(database)
    try:
        url = f"ws://127.0.0.1:{port}/ws/v1/fleet?city={city_id}"
        samples, vehicles = [], 0
        for i in range(runs + 1):
            elapsed, vehicles = asyncio.run(_snapshot_ms(url, token))
            if i:
                samples.append(elapsed)
    finally:
        common.stop(process)
    p = common.percentiles(samples, (50, 95))
    return {"map_snapshot_ms": p["p95"], "map_snapshot_p50_ms": p["p50"], "map_snapshot_vehicles": vehicles}


# --- the run ---------------------------------------------------------------------------------------------------


def _prepare(scale: float) -> dict[str, Any]:
    from django.db import connection
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from bench._admin_seed import MAP_CITY, Counts, Seeder
    from console import services as console_services
    from fleet.models import City

    counts = Counts.at(scale)
    admin = User.objects.filter(email="bench-admin@example.com").first()
    if admin is None:
        admin = User.objects.create_superuser(email="bench-admin@example.com", password=PASSWORD)
        now = datetime.now(UTC)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            timings = Seeder(cursor, counts, now, lambda line: print(line, flush=True)).run(admin.id)
        with common.Timer() as rollups:
            console_services.rollup_rebuild(since=now - timedelta(days=92), until=now)
        timings["rollups"] = round(rollups.wall_s, 1)
        seed_s: float | None = round(time.perf_counter() - started, 1)
        print(f"seed: dashboard rollups in {timings['rollups']} s; whole seed {seed_s} s", flush=True)
    else:  # a kept database, seeded by an earlier run
        seed_s, timings = None, {}
        print("seed: kept database already seeded", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    token = AccessToken.for_user(admin)
    token.set_exp(lifetime=timedelta(hours=6))
    city = City.objects.get(slug=MAP_CITY)
    return {"seed_s": seed_s, "seed_steps_s": timings, "database_size": size, "counts": counts.__dict__,
            "token": str(token), "map_city": str(city.id), "map_city_slug": city.slug}


@contextmanager
def _kept_database(name: str) -> Iterator[str]:
    """``BENCH_ADMIN_DATABASE``: a database kept between runs (created and seeded by the first, migrated by
    every run), to time admin changes without seeding again. Its Redis keys are still removed after."""
    from django.core.management import call_command

    base_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    with psycopg.connect(common.with_database(base_url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            common.create_database(base_url, name)
    previous = common.point_django_at(name, name)
    try:
        with common.Timer() as migrate:
            call_command("migrate", verbosity=0, interactive=False)
        print(f"admin: kept database {name}, migrated in {migrate.wall_s:.1f} s", flush=True)
        yield name
    finally:
        common.point_django_at(previous[0], previous[1] or "")
        common.delete_redis_keys(redis_url, name)


def run(scale: float, requests: int, map_runs: int) -> dict[str, Any]:
    began = time.perf_counter()
    kept = os.environ.get("BENCH_ADMIN_DATABASE")
    with _kept_database(kept) if kept else common.django_database("admin") as database:
        data = _prepare(scale)
        port = common.free_port()
        # Plain HTTP on the loopback: cookies without the Secure flag, or the client would not send them back.
        server = common.serve_wsgi(database, port, workers=2, threads=2, env={"SECURE_COOKIES": "0"})
        base = f"http://127.0.0.1:{port}"
        try:
            session = _login(base)
            home = f"/admin/?city={data['map_city_slug']}"
            plan = [("dashboard", home), ("admin home", "/admin/")]
            plan += _page_plan(base, session)
            plan += _linked_pages(base, session, home, plan)
            print(f"admin: {len(plan)} pages, {requests} requests each", flush=True)
            pages = _time_pages(base, session, plan, requests)
        finally:
            common.stop(server)
        figures_map = _map_snapshot(database, data["map_city"], data["token"], map_runs)
    worst = max(pages, key=lambda name: pages[name]["p95_ms"])
    over = sorted(name for name, page in pages.items() if page["p95_ms"] >= TARGET_PAGE_MS)
    failed = sorted(name for name, page in pages.items() if page["status"] >= 400)
    figures = {
        "admin_scale": scale, "admin_worst_p95_ms": pages[worst]["p95_ms"], "admin_worst_page": worst,
        "admin_worst_path": urlsplit(pages[worst]["path"]).path + (
            "?" + urlsplit(pages[worst]["path"]).query if urlsplit(pages[worst]["path"]).query else ""),
        "dashboard_p95_ms": pages["dashboard"]["p95_ms"], "admin_pages": len(pages),
        "admin_pages_over_target": over, "admin_pages_failed": failed, "admin_requests_per_page": requests,
        **figures_map, "seed_s": data["seed_s"], "seed_steps_s": data["seed_steps_s"],
        "database_size": data["database_size"], "counts": data["counts"],
        "bench_s": round(time.perf_counter() - began, 1),
    }
    print(f"admin: worst page {worst} p95 {figures['admin_worst_p95_ms']} ms (target {TARGET_PAGE_MS}); "
          f"dashboard p95 {figures['dashboard_p95_ms']} ms; {len(over)} page(s) over target, {len(failed)} failed",
          flush=True)
    print(f"map: snapshot of {figures['map_snapshot_vehicles']} vehicles p95 {figures['map_snapshot_ms']} ms "
          f"(p50 {figures['map_snapshot_p50_ms']} ms, target {TARGET_MAP_MS})", flush=True)
    print(f"admin: seed {data['seed_s']} s, whole bench {figures['bench_s']} s, database {data['database_size']}",
          flush=True)
    return figures


def main() -> dict[str, Any]:
    return run(_env_float("BENCH_ADMIN_SCALE", 1.0), int(os.environ.get("BENCH_ADMIN_REQUESTS", 20)),
               int(os.environ.get("BENCH_ADMIN_MAP_RUNS", 10)))
