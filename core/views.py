from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST

from core import access, uploads
from core import metrics as core_metrics
from core.errors import TOO_LARGE, RequestTooLarge, error_body


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Checks nothing else, so a database outage does not restart workers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            return "migrations not applied"
    except DatabaseError as exc:
        return f"unreachable: {exc.__class__.__name__}"
    return None


def _check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        return f"unreachable: {exc.__class__.__name__}"
    return None


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database reachable with every migration applied, and Redis reachable.

    Anyone gets the status; the detail of each check only callers that may read metrics (core.access)."""
    problems = {name: problem for name, check in (("database", _check_database), ("redis", _check_redis))
                if (problem := check()) is not None}
    body: dict[str, Any] = {"status": "fail" if problems else "ok"}
    if access.ops_allowed(request):
        body["checks"] = {name: problems.get(name, "ok") for name in ("database", "redis")}
    return JsonResponse(body, status=503 if problems else 200)


def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(core_metrics.render(), content_type=CONTENT_TYPE_LATEST)


def media(request: HttpRequest, name: str) -> FileResponse:
    """An uploaded file (``MEDIA_URL``), for signed-in staff holding the permission its folder needs (each app's
    ``roles.MEDIA_PERMISSIONS``); 404 for everyone else, so nobody learns which files exist."""
    perm = uploads.media_permission(name)
    user = request.user
    if perm is None or not (user.is_authenticated and user.is_staff and user.has_perm(perm)):
        raise Http404
    try:
        handle = default_storage.open(name)
    except (FileNotFoundError, SuspiciousFileOperation):
        raise Http404 from None
    response = FileResponse(handle)
    for header, value in uploads.media_headers(name).items():
        response[header] = value
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception or Exception())


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400s outside DRF (a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` read by a middleware, a
    SuspiciousOperation): the API answers in its envelope, 413 ``request_too_large`` for an oversize body."""
    if request.path.startswith("/api/"):
        if isinstance(exception, TOO_LARGE):
            return JsonResponse(error_body(RequestTooLarge.code, RequestTooLarge.message), status=413)
        return JsonResponse(error_body("malformed_request", "The request could not be read."), status=400)
    from django.views.defaults import bad_request as default_bad_request

    return default_bad_request(request, exception or Exception())


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Internal server error."), status=500)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
