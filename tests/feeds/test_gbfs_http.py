"""How GBFS files are served: rendered once per ttl per system, Cache-Control, ETag/Last-Modified and 304, gzip,
CORS, absolute links from GBFS_BASE_URL."""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import pytest
from django.core.cache import cache as django_cache
from django.test import override_settings
from django.utils.http import http_date

from feeds.gbfs import cache, selectors, views
from fleet.models import Vehicle
from tests.feeds.gbfs_support import (
    _fresh_feed_cache,  # noqa: F401  (autouse fixture)
    city_with_stations,
)
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db
URL = "/gbfs/v3/freewheel_stations/vehicle_status.json"


def count_vehicles(response: Any) -> int:
    return len(json.loads(response.content)["data"]["vehicles"])


def test_a_file_is_rendered_once_per_ttl_and_served_without_queries_in_between(
    client: Any, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, made = city_with_stations()
    monkeypatch.setitem(selectors.TTL, "vehicle_status", 2)
    first = client.get(URL)
    VehicleFactory(city=system.city, vehicle_type=made["types"][0], lat=52.53, lon=13.42)  # a new vehicle
    with django_assert_num_queries(0):
        same_process = client.get(URL)  # this process's copy
        cache.forget()
        other_process = client.get(URL)  # a process without a copy: Redis's
    assert first.content == same_process.content == other_process.content
    assert count_vehicles(first) == 6
    time.sleep(2.1)  # the ttl passes: the next request renders again and sees the new vehicle
    assert count_vehicles(client.get(URL)) == 7


def test_while_one_request_renders_again_the_others_get_the_old_copy(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    system, made = city_with_stations()
    monkeypatch.setitem(selectors.TTL, "vehicle_status", 1)
    first = client.get(URL)
    VehicleFactory(city=system.city, vehicle_type=made["types"][0], lat=52.53, lon=13.42)
    time.sleep(1.1)
    lock = views._key("", "v3", system.system_id, "vehicle_status") + ":lock"
    django_cache.add(lock, 1)  # another process is rendering
    during = client.get(URL)
    assert (during.content, during["Cache-Control"]) == (first.content, "public, max-age=0")
    assert client.get(URL).content == first.content  # within RECHECK_S: not even Redis is asked
    django_cache.delete(lock)  # it finished without storing (died): the next request that asks renders
    time.sleep(cache.RECHECK_S)
    assert count_vehicles(client.get(URL)) == 7


def test_a_stampede_renders_once() -> None:
    renders: list[int] = []

    def render() -> cache.Rendered:
        renders.append(1)
        time.sleep(0.3)  # a slow render: every other thread arrives while it runs
        return cache.build({"data": len(renders)}, ttl=60)

    results: list[cache.Rendered] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_render("gbfs:test:stampede", 60, render)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(renders) == 1
    assert len({r.etag for r in results}) == 1 and len(results) == 8
    assert django_cache.get("gbfs:test:stampede:lock") is None  # the lock is released


def test_cache_headers_and_conditional_requests(client: Any) -> None:
    city_with_stations()
    response = client.get(URL)
    assert response.status_code == 200
    max_age = int(response["Cache-Control"].removeprefix("public, max-age="))
    assert 0 < max_age <= selectors.TTL["vehicle_status"]
    assert response["ETag"].startswith('W/"')
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Vary"] == "Accept-Encoding"
    body = json.loads(response.content)
    assert body["ttl"] == selectors.TTL["vehicle_status"]

    again = client.get(URL, HTTP_IF_NONE_MATCH=response["ETag"])
    assert (again.status_code, again.content) == (304, b"")
    assert again["ETag"] == response["ETag"] and again["Cache-Control"].startswith("public, max-age=")
    strong = client.get(URL, HTTP_IF_NONE_MATCH=response["ETag"].removeprefix("W/"))  # weak comparison
    assert strong.status_code == 304
    since = client.get(URL, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"])
    assert since.status_code == 304
    older = client.get(URL, HTTP_IF_MODIFIED_SINCE=http_date(time.time() - 3600))
    assert older.status_code == 200 and older.content == response.content
    other = client.get(URL, HTTP_IF_NONE_MATCH='W/"something-else"')
    assert other.status_code == 200


def test_gzip_is_served_to_clients_that_accept_it(client: Any) -> None:
    city_with_stations()
    plain = client.get(URL)
    zipped = client.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert zipped["ETag"] == plain["ETag"]  # weak: the same data in both encodings


def test_links_use_gbfs_base_url_when_set(client: Any) -> None:
    city_with_stations()
    with override_settings(GBFS_BASE_URL="https://gbfs.example.com"):
        manifest = client.get("/gbfs/manifest.json").json()
        discovery = client.get("/gbfs/v3/freewheel_stations/gbfs.json").json()
    urls = [v["url"] for d in manifest["data"]["datasets"] for v in d["versions"]]
    urls += [f["url"] for f in discovery["data"]["feeds"]]
    assert urls and all(url.startswith("https://gbfs.example.com/gbfs/") for url in urls)


def test_reading_a_feed_changes_nothing(client: Any) -> None:
    system, _ = city_with_stations()
    before = list(Vehicle.objects.order_by("id").values_list("id", "status", "trip_id", "updated_at"))
    for name in ("vehicle_status", "station_status", "system_information"):
        assert client.get(f"/gbfs/v3/{system.system_id}/{name}.json").status_code == 200
    assert list(Vehicle.objects.order_by("id").values_list("id", "status", "trip_id", "updated_at")) == before
