"""The fleet map's admin pages (docs/console.md "Fleet map"): the page, a socket ticket for its staff member, a
vehicle's panel, a command from the panel, and the map's layers. Every view is wrapped in
``admin.site.admin_view`` (staff, signed in, CSRF-protected) in ``console/urls.py`` and checks its permission."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_POST

from console import map_selectors
from core import csp
from core.errors import DomainError
from core.keys import digest_key
from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import City, OpsTaskKind
from live import services as live_services


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _city(cities: list[City], slug: str | None) -> City | None:
    return next((c for c in cities if c.slug == slug), cities[0] if cities else None)


def map_page(request: HttpRequest) -> HttpResponse:
    return csp_override(csp.live_socket_page_policy())(_map_page)(request)


@require_GET
def _map_page(request: HttpRequest) -> HttpResponse:
    _require(request, map_selectors.VIEW_PERMISSION)
    cities = list(fleet_selectors.staff_cities(request.user))  # the staff member's cities only
    city = _city(cities, request.GET.get("city"))
    context: dict[str, Any] = {**admin.site.each_context(request), "title": "Fleet map", "cities": cities,
                               "city": city, "no_city_of_yours": not cities and bool(fleet_selectors.cities_all())}
    if city is not None:
        context["map_config"] = {**map_selectors.map_config(user=request.user, city=city, cities=cities),
                                 "socket_origin": settings.CONSOLE_MAP_SOCKET_ORIGIN,
                                 # the admin's zone (staff member's, OPS_TIME_ZONE, the city's: docs/admin.md)
                                 "time_zone": timezone.get_current_timezone_name()}
    return render(request, "console/map.html", context)


@require_POST
def map_ticket(request: HttpRequest) -> JsonResponse:
    """A single-use socket ticket for the signed-in staff member (POST: the admin's CSRF token is required, so
    another site cannot mint one). The socket it opens lives as long as an access token would (JWT_ACCESS_MINUTES),
    and never past the session; then it closes with 4001 and the page fetches a new ticket."""
    _require(request, map_selectors.VIEW_PERMISSION)
    access = cast(timedelta, settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    lifetime = min(access.total_seconds(), request.session.get_expiry_age())
    ticket = live_services.ws_ticket_issue(user=request.user, token_expires_at=time.time() + lifetime)
    return JsonResponse({"ticket": ticket, "expires_in": settings.LIVE_TICKET_TTL_S})  # admin_view: never cached


@require_GET
def map_vehicle(request: HttpRequest, vehicle_id: uuid.UUID) -> JsonResponse:
    _require(request, map_selectors.VIEW_PERMISSION)
    try:
        fleet_selectors.staff_vehicle_check(user=request.user, vehicle_id=vehicle_id)
        vehicle = fleet_selectors.vehicle_get(vehicle_id=vehicle_id)
    except fleet_errors.VehicleNotFound:
        raise Http404 from None
    return JsonResponse(map_selectors.vehicle_panel(user=request.user, vehicle=vehicle))


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@require_POST
def map_command(request: HttpRequest, vehicle_id: uuid.UUID) -> JsonResponse:
    """``{"kind", "max_speed_kph"?, "key"?}`` from the panel: queued through ``fleet.services`` (202), whose
    answer arrives on the fleet socket as ``command.closed``; ``back_in_service`` is done at once (200)."""
    _require(request, map_selectors.VIEW_PERMISSION)
    body = _json_object(request)
    if body is None:
        return _error(400, "invalid_json", "The body is not a JSON object.")
    kind = body.get("kind")
    if kind not in map_selectors.COMMANDS:
        return _error(422, "command_invalid", f"Unknown command {kind!r}.")
    _require(request, map_selectors.COMMANDS[kind][1])
    try:
        fleet_selectors.staff_vehicle_check(user=request.user, vehicle_id=vehicle_id)
        if kind == "back_in_service":
            fleet_services.vehicle_back_in_service(vehicle_id=vehicle_id, actor=request.user)
            return JsonResponse({"kind": kind, "state": "done", "status": "available"})
        params = {"max_speed_kph": body.get("max_speed_kph")} if kind == "set_speed_limit" else {}
        key = body.get("key")
        command = fleet_services.command_queue(
            vehicle_id=vehicle_id, kind=kind, params=params, actor=request.user, audited=True,
            idempotency_key=digest_key("console-map", request.user.pk, key) if isinstance(key, str) and key else None)
    except DomainError as exc:
        return _error(exc.status, exc.code, exc.detail_message)
    return JsonResponse({"command_id": str(command.id), "kind": command.kind, "params": command.params,
                         "state": command.state}, status=202)


def _json_object(request: HttpRequest) -> dict[str, Any] | None:
    """The request's JSON body if it is an object (an empty body is ``{}``), else None."""
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@require_GET
def map_layers(request: HttpRequest, city_id: uuid.UUID) -> JsonResponse:
    _require(request, map_selectors.VIEW_PERMISSION)
    city = fleet_selectors.staff_cities(request.user).filter(id=city_id).first()
    if city is None:
        raise Http404
    return JsonResponse(map_selectors.map_layers(user=request.user, city=city))


@require_POST
def map_task(request: HttpRequest, vehicle_id: uuid.UUID) -> JsonResponse:
    """``{"kind", "reason"?}`` from the panel: open a field task for the vehicle (``fleet.services.ops_task_create``;
    the one already open of that kind is returned), 201."""
    _require(request, map_selectors.VIEW_PERMISSION)
    _require(request, "fleet.add_opstask")
    body = _json_object(request)
    if body is None:
        return _error(400, "invalid_json", "The body is not a JSON object.")
    kind = body.get("kind")
    if kind not in OpsTaskKind.values:
        return _error(422, "ops_task_kind_invalid", f"Unknown task kind {kind!r}.")
    reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
    try:
        fleet_selectors.staff_vehicle_check(user=request.user, vehicle_id=vehicle_id)
        task = fleet_services.ops_task_create(vehicle_id=vehicle_id, kind=kind, actor=request.user,
                                              reason=reason or f"opened on the map by {request.user}")
    except DomainError as exc:
        return _error(exc.status, exc.code, exc.detail_message)
    return JsonResponse({"id": str(task.id), "kind": task.kind, "state": task.state}, status=201)
