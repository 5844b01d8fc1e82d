"""Conditional GET for the rider API: a weak ``ETag``, ``If-None-Match`` -> 304, ``Cache-Control: private, no-cache``.

Apps poll a few small answers (a ride while it unlocks or locks, the launch call); with the ETag of the answer they
hold, an unchanged one costs them an empty 304. The tag is built by the view from what its answer is made of (a row
version the database bumps, plus any value read from other rows), never from the clock, so two identical answers
carry the same tag on every worker.

``private, no-cache``: a shared cache must not keep a rider's answer, and the app's own cache must ask again every
time (with ``If-None-Match``) instead of serving a stale state of the ride.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

CACHE_CONTROL = "private, no-cache"

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="The ETag of the answer you hold: 304 with no body if it is still current.")
NOT_MODIFIED = OpenApiResponse(description="Not modified: the answer you hold (its ETag in If-None-Match) is current. "
                                           "Same ETag, Cache-Control and Retry-After headers as a 200, no body.")


def weak_etag(*parts: Any) -> str:
    """``W/"<hash>"`` of the parts' ``repr``: the same parts give the same tag in every process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=10).hexdigest()
    return f'W/"{digest}"'


def not_modified(request: Request, etag: str) -> bool:
    """The request's ``If-None-Match`` names this tag (weak comparison, RFC 9110 8.8.3.2), or is ``*``."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def respond(request: Request, etag: str, body: Callable[[], Any], *,
            retry_after_s: int | None = None) -> Response:
    """200 with ``body()`` and the tag, or an empty 304 when the client holds it (``body`` is then never built).
    ``retry_after_s``: the answer is about to change (a command pending); the app may ask again after that long."""
    response = Response(status=304) if not_modified(request, etag) else Response(body())
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    if retry_after_s is not None:
        response["Retry-After"] = str(retry_after_s)
    return response
