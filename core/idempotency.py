"""``Idempotency-Key`` for every POST under ``/api/``.

The first request with a key claims it (a committed row, state ``in_progress``), runs, and stores its response;
a retry with the same key and the same request gets that response again (header ``Idempotent-Replayed: true``).
A retry with a different request gets 422 ``idempotency_key_reused``; a retry while the first is still running
gets 409 ``idempotency_request_in_progress``. Responses that say the request did not run (401, 429, 5xx) are not
stored, so the client may retry them. Nor are responses marked ``Cache-Control: no-store``: the views that hand out
credentials (token pairs, WebSocket tickets) mark theirs so (RFC 6749 asks it of token responses), and a secret
must not sit in this table for a day, to be replayed to whoever repeats the request. Their retry runs again.
Keys are private to the caller: the signed-in user, else the client IP (``core.clientip``), and expire after
``IDEMPOTENCY_KEY_TTL``. A claim left ``in_progress`` by a crashed process is taken over after ``STALE_LOCK``.

Runs as middleware rather than in views so that every POST is covered, including third-party views (token
endpoints); the caller is identified with the API's own authenticators, which read only the headers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from rest_framework.request import Request
from rest_framework.views import APIView

from core.clientip import client_ip
from core.db import conflict_guard
from core.errors import TOO_LARGE, error_body
from core.models import IdempotencyKey

HEADER = "HTTP_IDEMPOTENCY_KEY"
STALE_LOCK = timedelta(seconds=60)
_NOT_STORED = {401, 429}


def _json(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(error_body(code, message)), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _scope(request: HttpRequest) -> str:
    drf_request = Request(request, authenticators=APIView().get_authenticators())
    try:
        user = drf_request.user
    except Exception:  # an invalid token: the view will answer 401, which is never stored
        user = None
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    # Anonymous callers are told apart by their trusted IP, so that one client's key is never another's.
    scope = f"anon:{client_ip(request)}"
    return scope if len(scope) <= 64 else "anon:" + hashlib.sha256(scope.encode()).hexdigest()[:48]


def no_store[R: HttpResponse](response: R) -> R:
    """Mark a response that carries a secret: ``Cache-Control: no-store``, so that neither HTTP caches nor this
    middleware keep a copy of it."""
    patch_cache_control(response, no_store=True)
    return response


def _no_store(response: HttpResponse) -> bool:
    directives = (part.split("=")[0].strip().lower() for part in response.get("Cache-Control", "").split(","))
    return "no-store" in directives


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    for part in (request.method or "", request.path, request.content_type or ""):
        digest.update(part.encode() + b"\0")
    digest.update(request.body)
    return digest.hexdigest()


def _claim(*, scope: str, key: str, request: HttpRequest, request_hash: str) -> IdempotencyKey | None:
    """Insert the claim row, committed at once; returns None when the key is already taken."""
    now = timezone.now()
    try:
        with conflict_guard():  # the INSERT commits by itself (autocommit): a taken key costs no transaction
            return IdempotencyKey.objects.create(
                scope=scope,
                key=key,
                method=request.method or "",
                path=request.path[:512],
                request_hash=request_hash,
                locked_at=now,
                expires_at=now + settings.IDEMPOTENCY_KEY_TTL,
            )
    except IntegrityError:
        return None


def _take_over(existing: IdempotencyKey, request_hash: str) -> bool:
    """Take over an expired row, or a stale in-progress claim of a crashed process (compare-and-set)."""
    now = timezone.now()
    stale = existing.expires_at <= now or (
        existing.state == IdempotencyKey.State.IN_PROGRESS
        and existing.locked_at <= now - STALE_LOCK
        and existing.request_hash == request_hash
    )
    if not stale:
        return False
    taken = IdempotencyKey.objects.filter(pk=existing.pk, locked_at=existing.locked_at).update(
        state=IdempotencyKey.State.IN_PROGRESS,
        request_hash=request_hash,
        response_status=None,
        response_body=None,
        locked_at=now,
        expires_at=now + settings.IDEMPOTENCY_KEY_TTL,
    )
    return taken == 1


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.response_body or b""), status=row.response_status or 200, content_type=row.response_content_type
    )
    response["Idempotent-Replayed"] = "true"
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not (1 <= len(key) <= 255) or not key.isprintable():
            return _json(400, "idempotency_key_invalid", "Idempotency-Key must be 1-255 printable characters.")
        try:
            request_hash = _request_hash(request)
        except TOO_LARGE:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: nothing to store, the view answers 413 in its terms
            return self.get_response(request)
        scope = _scope(request)
        row = _claim(scope=scope, key=key, request=request, request_hash=request_hash)
        if row is None:
            existing = IdempotencyKey.objects.get(scope=scope, key=key)
            if _take_over(existing, request_hash):
                row = IdempotencyKey.objects.get(pk=existing.pk)
            elif existing.request_hash != request_hash:
                return _json(
                    422, "idempotency_key_reused", "This Idempotency-Key was used with a different request."
                )
            elif existing.state == IdempotencyKey.State.IN_PROGRESS:
                return _json(
                    409,
                    "idempotency_request_in_progress",
                    "A request with this Idempotency-Key is still being processed.",
                    {"Retry-After": "1"},
                )
            else:
                return _replay(existing)
        return self._run_and_store(request, row)

    def _run_and_store(self, request: HttpRequest, row: IdempotencyKey) -> HttpResponse:
        try:
            response = self.get_response(request)
        except BaseException:
            row.delete()
            raise
        if (response.status_code >= 500 or response.status_code in _NOT_STORED or response.streaming
                or _no_store(response)):
            row.delete()
            return response
        IdempotencyKey.objects.filter(pk=row.pk).update(
            state=IdempotencyKey.State.COMPLETED,
            response_status=response.status_code,
            response_body=response.content,
            response_content_type=response.get("Content-Type", "application/json"),
        )
        return response
