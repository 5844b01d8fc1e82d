"""Who may read the operators' endpoints: ``/metrics``, ``/readyz`` detail and the API docs (docs/security.md).

In DEBUG everything is open. Otherwise a request passes with ``Authorization: Bearer <METRICS_TOKEN>`` or from
one of ``OPS_ALLOWED_NETWORKS``; the API docs also when ``API_DOCS_PUBLIC`` is on.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from core import clientip


def request_ip(request: HttpRequest) -> str | None:
    """The caller's address for the network rule (core.clientip), or None when it cannot be trusted.

    With ``TRUSTED_PROXY_COUNT`` 0 a request that carries ``X-Forwarded-For`` came through a proxy nobody declared:
    its REMOTE_ADDR is that proxy's, a private address for every client on the internet, so it gets no network
    pass (the token still works).
    """
    if settings.TRUSTED_PROXY_COUNT == 0 and "HTTP_X_FORWARDED_FOR" in request.META:
        return None
    return clientip.client_ip(request) or None


def _from_allowed_network(request: HttpRequest) -> bool:
    address = request_ip(request)
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.OPS_ALLOWED_NETWORKS)


def _has_token(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def ops_allowed(request: HttpRequest) -> bool:
    """May this request read metrics and health detail?"""
    return settings.DEBUG or _has_token(request) or _from_allowed_network(request)


def docs_allowed(request: HttpRequest) -> bool:
    return settings.API_DOCS_PUBLIC or ops_allowed(request)


def _only_if(allowed: Callable[[HttpRequest], bool]) -> Callable[[Callable[..., HttpResponse]], Callable[..., Any]]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request):
                raise Http404  # not public: do not reveal that it exists
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


ops_only = _only_if(ops_allowed)
docs_only = _only_if(docs_allowed)
