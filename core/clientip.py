"""The client's IP address: the identity of a caller before it signs in (docs/security.md "Client IP and proxies").

Throttles, the anonymous ``Idempotency-Key`` scope and the admin login lockout all call ``client_ip``, so one
setting decides who the caller is everywhere: ``TRUSTED_PROXY_COUNT``, the number of reverse proxies in front of
the app. With none (the default) the client is the socket's peer, ``REMOTE_ADDR``, and ``X-Forwarded-For`` is
ignored: anyone can write that header. Behind N proxies, each proxy appends the address it received the request
from, so the N-th entry from the right was written by the outermost trusted proxy and is the client; entries a
client sends itself stand further left and change nothing.

This is DRF's ``NUM_PROXIES`` rule, and settings sets ``NUM_PROXIES`` from the same variable, so a stock DRF
throttle agrees with this function. One difference: an entry that is not an IP address (a proxy that is not
there or adds ports) falls back to ``REMOTE_ADDR`` instead of becoming an identity of its own.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request


def client_ip(request: HttpRequest | Request) -> str:
    """The caller's IP address as the configured proxies report it (``REMOTE_ADDR`` without proxies)."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies == 0 or not forwarded:
        return remote
    entries = forwarded.split(",")
    candidate = entries[-min(proxies, len(entries))].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
