"""/metrics labels stay bounded; /metrics, /readyz detail and the API docs are not public off DEBUG (core.access)."""

from __future__ import annotations

import ipaddress
import re

import pytest

pytestmark = pytest.mark.django_db
PUBLIC = {"REMOTE_ADDR": "203.0.113.7"}
TOKEN = "metrics-token-0123456789abcdef"


def _series(client, name: str) -> set[str]:  # type: ignore[no-untyped-def]
    text = client.get("/metrics").content.decode()
    return {line.split(" ")[0] for line in text.splitlines() if line.startswith(name + "{")}


def test_made_up_methods_and_paths_add_no_series(client):
    client.get("/healthz")
    before = _series(client, "freewheel_http_requests_total")
    for i in range(40):
        client.generic(f"BREW{i}", "/healthz")
        client.get(f"/no-such-page-{i}")
    added = _series(client, "freewheel_http_requests_total") - before
    assert not any("BREW" in s or "no-such-page" in s for s in _series(client, "freewheel_http_requests_total"))
    methods = {re.search(r'method="([^"]+)"', s).group(1) for s in added}  # type: ignore[union-attr]
    routes = {re.search(r'route="([^"]*)"', s).group(1) for s in added}  # type: ignore[union-attr]
    assert methods <= {"GET", "other"} and routes <= {"healthz", "unmatched", "metrics"}
    assert len(added) <= 4


@pytest.mark.parametrize("url", ["/metrics", "/api/schema/", "/api/docs/", "/api/redoc/"])
def test_not_public_off_debug(client, settings, url):
    settings.DEBUG = False
    assert client.get(url, **PUBLIC).status_code == 404
    settings.DEBUG = True
    assert client.get(url, **PUBLIC).status_code == 200


def test_metrics_with_the_token_or_from_an_allowed_network(client, settings):
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **PUBLIC).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x", **PUBLIC).status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200  # default: loopback and private
    settings.OPS_ALLOWED_NETWORKS = [ipaddress.ip_network("203.0.113.0/24")]
    assert client.get("/metrics", **PUBLIC).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 404


def test_behind_a_proxy_the_network_rule_judges_the_client_not_the_proxy(client, settings):
    """Behind a proxy REMOTE_ADDR is the proxy's private address for every client (core.access.request_ip)."""
    through_proxy = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9"}
    assert client.get("/metrics", **through_proxy).status_code == 404  # a proxy nobody declared: no network pass
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get("/metrics", **through_proxy).status_code == 404  # the client is 198.51.100.9
    assert client.get("/metrics", **{**through_proxy, "HTTP_X_FORWARDED_FOR": "10.9.8.7"}).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.3").status_code == 200  # a scrape that skips the proxy


def test_readyz_gives_the_status_to_anyone_and_the_detail_to_operators(client):
    assert client.get("/readyz", **PUBLIC).json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_docs_may_be_made_public(client, settings):
    settings.API_DOCS_PUBLIC = True
    assert client.get("/api/schema/", **PUBLIC).status_code == 200
    assert client.get("/metrics", **PUBLIC).status_code == 404
