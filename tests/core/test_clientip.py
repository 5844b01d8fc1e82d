"""core.clientip.client_ip: the caller's IP from TRUSTED_PROXY_COUNT, the same rule as DRF's NUM_PROXIES."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.clientip import client_ip

SOCKET = "172.18.0.5"


def _request(forwarded: str | None):  # type: ignore[no-untyped-def]
    if forwarded is None:
        return RequestFactory().get("/", REMOTE_ADDR=SOCKET)
    return RequestFactory().get("/", REMOTE_ADDR=SOCKET, HTTP_X_FORWARDED_FOR=forwarded)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "client"),
    [
        (0, None, SOCKET),
        (0, "203.0.113.7", SOCKET),  # no proxy: anyone can write the header
        (1, None, SOCKET),  # a request that did not come through the proxy
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a client prepending fake entries is still itself
        (1, "6.6.6.6,7.7.7.7 ,  203.0.113.7 ", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.2", "203.0.113.7"),  # CDN -> Caddy -> app
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "203.0.113.7:5555", SOCKET),  # not an address: never an identity of its own
        (1, "unknown", SOCKET),
    ],
)
def test_client_ip(settings, proxies, forwarded, client):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(_request(forwarded)) == client


@pytest.mark.parametrize("proxies", [0, 1, 2])
@pytest.mark.parametrize("forwarded", [None, "203.0.113.7", "6.6.6.6, 203.0.113.7", "1.1.1.1, 2.2.2.2, 3.3.3.3"])
def test_drf_throttles_identify_the_client_the_same_way(settings, proxies, forwarded):
    """settings.py sets DRF's NUM_PROXIES from TRUSTED_PROXY_COUNT: a stock DRF throttle agrees with client_ip."""
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = _request(forwarded)
    assert BaseThrottle().get_ident(Request(request)) == client_ip(request)


def test_settings_tie_num_proxies_to_trusted_proxy_count():
    from django.conf import settings

    assert settings.TRUSTED_PROXY_COUNT == 0
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
