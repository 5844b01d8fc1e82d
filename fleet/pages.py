"""The technicians' task page (``/ops/tasks/``, docs/fleet.md "Field tasks"): phone-sized, server-rendered, staff
session login (``admin.site.admin_view`` in ``fleet/page_urls.py``). Reads through selectors, every action through
one service, then back to the page with a message (post/redirect/get)."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET, require_POST

from core import csp
from core.errors import DomainError
from fleet import errors, selectors, services
from fleet.models import OpsTask, OpsTaskKind, OpsTaskState

LIST_LIMIT = 50
CLOSE_CHOICES = [(OpsTaskState.DONE, "Done"), (OpsTaskState.NOT_DONE, "Not done"),
                 (OpsTaskState.CANCELLED, "Not needed (cancel)")]


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _position(request: HttpRequest) -> tuple[float, float] | None:
    try:
        lat, lon = float(request.GET["lat"]), float(request.GET["lon"])
    except (KeyError, ValueError):
        return None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def _local(task: OpsTask) -> OpsTask:
    """Times in the task's city's zone, and the distance as a person reads it (350 m, 4.4 km)."""
    zone = ZoneInfo(task.city.timezone)
    task.created_local = timezone.localtime(task.created_at, zone)  # type: ignore[attr-defined]
    distance = getattr(task, "distance_m", None)
    task.distance_label = (  # type: ignore[attr-defined]
        None if distance is None else f"{distance:.0f} m" if distance < 1000 else f"{distance / 1000:.1f} km")
    return task



def task_list(request: HttpRequest) -> HttpResponse:
    """The list follows task changes live (``/ws/v1/ops/tasks``, docs/fleet.md "Field tasks")."""
    return csp_override(csp.live_socket_page_policy())(_task_list)(request)


@require_GET
def _task_list(request: HttpRequest) -> HttpResponse:
    _require(request, "fleet.view_opstask")
    position = _position(request)
    lat, lon = position if position else (None, None)
    kind = request.GET.get("kind") if request.GET.get("kind") in OpsTaskKind.values else None
    active = selectors.staff_scope(  # the technician's cities only
        selectors.ops_tasks_for_technician(lat=lat, lon=lon, kind=kind), user=request.user, path="city",
    ).select_related("city")
    mine = [_local(t) for t in active.filter(assignee_id=request.user.pk)[:LIST_LIMIT]]
    nearby = [_local(t) for t in active.exclude(assignee_id=request.user.pk)[:LIST_LIMIT]]
    return render(request, "fleet/ops_tasks/list.html", {
        "mine": mine, "nearby": nearby, "lat": lat, "lon": lon, "kind": kind, "kinds": OpsTaskKind.choices,
        "query": request.GET.urlencode(),
        # The socket ticket of the staff session, as the fleet map gets it (console: POST with the CSRF token).
        "live": {"ticket_url": reverse("console-map-ticket"), "socket_origin": settings.CONSOLE_MAP_SOCKET_ORIGIN},
    })


@require_GET
def task_detail(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    _require(request, "fleet.view_opstask")
    try:
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
        task = _local(selectors.ops_task_get(task_id=task_id))
    except errors.OpsTaskNotFound:
        return render(request, "fleet/ops_tasks/missing.html", status=404)
    notes = list(selectors.ops_task_notes(task_id=task_id)) if request.user.has_perm("fleet.view_opstasknote") else []
    return render(request, "fleet/ops_tasks/detail.html", {
        "task": task, "notes": notes, "close_choices": CLOSE_CHOICES,
        "can_work": request.user.has_perm("fleet.change_opstask"),
        "can_note": request.user.has_perm("fleet.add_opstasknote"),
        "back": reverse("ops-tasks") + (f"?{request.GET['from']}" if request.GET.get("from") else ""),
    })


def _act(request: HttpRequest, task_id: uuid.UUID, permission: str, work: Any, done: str) -> HttpResponse:
    """Run one service; its refusal becomes the page's error message. ``work`` may return a second message."""
    _require(request, permission)
    try:
        selectors.staff_ops_task_check(user=request.user, task_id=task_id)
    except errors.OpsTaskNotFound:
        return render(request, "fleet/ops_tasks/missing.html", status=404)  # another city's: as if none
    try:
        more = work()
        messages.success(request, done)
        if isinstance(more, str):
            messages.info(request, more)
    except DomainError as exc:
        messages.error(request, exc.detail_message)
    return HttpResponseRedirect(reverse("ops-task", args=[task_id]))


@require_POST
def task_take(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _act(request, task_id, "fleet.change_opstask",
                lambda: services.ops_task_assign(task_id=task_id, assignee=request.user, actor=request.user), "The task is yours.")


@require_POST
def task_note(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _act(request, task_id, "fleet.add_opstasknote", lambda: services.ops_task_note_add(
        task_id=task_id, author=request.user, text=request.POST.get("text", ""), photo=request.FILES.get("photo")),
        "Note added.")


@require_POST
def task_close(request: HttpRequest, task_id: uuid.UUID) -> HttpResponse:
    outcome = request.POST.get("outcome", "")
    note = request.POST.get("note", "").strip()
    if outcome not in dict(CLOSE_CHOICES):
        messages.error(request, "Choose how the task ended.")
        return HttpResponseRedirect(reverse("ops-task", args=[task_id]))
    if outcome == OpsTaskState.NOT_DONE and not note:
        messages.error(request, "Say why the task was not done.")
        return HttpResponseRedirect(reverse("ops-task", args=[task_id]))

    def close() -> str:
        task = services.ops_task_close(task_id=task_id, actor=request.user, outcome=outcome, note=note)
        task.vehicle.refresh_from_db(fields=["status"])
        return f"{task.vehicle.code} is now {task.vehicle.get_status_display().lower()}."

    return _act(request, task_id, "fleet.change_opstask", close, "Task closed.")
