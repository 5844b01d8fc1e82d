"""Field technicians' work on ops tasks: open one by hand, add notes and photos, close it with an outcome, and put
the vehicle back in service when the closed task was the last thing keeping it off the street.

Closing rules (``ops_task_close`` by a staff member, outcome ``done``):

- ``inspect`` / ``repair`` on a vehicle in ``maintenance``: back in service, ``available`` or ``low_battery`` by
  its last battery reading (``vehicle_back_in_service(by_battery=True)``); a low one gets its swap task.
- ``swap_battery`` on a vehicle in ``low_battery`` (MDS ``battery_charged``) or ``maintenance``: ``available``.
- never while another open task of a holding kind (``HOLDING_KINDS``) is left on the vehicle, and never for a
  vehicle in any other status (on a trip, retired, in the workshop ...).
``not_done`` and ``cancelled`` leave the vehicle as it is. The system closing a task (no actor, e.g. the battery
was reported charged) leaves the vehicle to whoever closed it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from core import audit, push, uploads
from fleet import errors
from fleet.models import ActorKind, OpsTask, OpsTaskKind, OpsTaskNote, OpsTaskState, Vehicle
from fleet.models.ops import KIND_PRIORITY, TASK_OPEN_STATES
from fleet.services import ops, rental
from fleet.services.transitions import lock_vehicle, vehicle_transition
from fleet.states import Status

CLOSED_OUTCOMES = (OpsTaskState.DONE, OpsTaskState.NOT_DONE, OpsTaskState.CANCELLED)
# An open task of these kinds means the vehicle must stay off the street.
HOLDING_KINDS = frozenset({OpsTaskKind.INSPECT, OpsTaskKind.REPAIR, OpsTaskKind.RETRIEVE, OpsTaskKind.SECURE,
                           OpsTaskKind.SWAP_BATTERY})
# kind -> the statuses that a task of this kind, done, takes a vehicle out of.
RELEASES: dict[str, frozenset[str]] = {
    OpsTaskKind.INSPECT: frozenset({Status.MAINTENANCE}),
    OpsTaskKind.REPAIR: frozenset({Status.MAINTENANCE}),
    OpsTaskKind.SWAP_BATTERY: frozenset({Status.MAINTENANCE, Status.LOW_BATTERY}),
}


@transaction.atomic
def ops_task_create(*, vehicle_id: uuid.UUID, kind: str, actor: Any, reason: str = "",
                    priority: int | None = None) -> OpsTask:
    """Ops open a task by hand (admin, API, map); the one already open for that vehicle and kind is returned
    as it is (one open task per vehicle and kind)."""
    spec = ops.TaskSpec(vehicle_id=vehicle_id, city_id=_city_of(vehicle_id), kind=kind,
                        reason=reason or f"opened by {actor}", priority=priority or KIND_PRIORITY.get(kind))
    opened = ops.ops_tasks_open(tasks=[spec])
    if opened:
        audit.audit_staff_action(actor=actor, action="fleet.task_create", obj=opened[0], reason=reason,
                                 after={"kind": kind, "vehicle": str(vehicle_id), "priority": opened[0].priority})
        return opened[0]
    return OpsTask.objects.select_related("vehicle").get(vehicle_id=vehicle_id, kind=kind,
                                                         state__in=TASK_OPEN_STATES)


def _city_of(vehicle_id: uuid.UUID) -> uuid.UUID:
    city_id = Vehicle.objects.filter(id=vehicle_id).exclude(status=Status.RETIRED).values_list(
        "city_id", flat=True).first()
    if city_id is None:
        raise errors.VehicleNotFound()
    return city_id


@transaction.atomic
def ops_task_close(*, task_id: uuid.UUID, actor: Any = None, outcome: str = OpsTaskState.DONE,
                   note: str = "") -> OpsTask:
    """Close a task as ``done``, ``not_done`` or ``cancelled`` with what was found (``note``); closing a closed task
    returns it unchanged. Done by staff: the vehicle goes back in service where the rules above say so."""
    if outcome not in CLOSED_OUTCOMES:
        raise ValueError(f"outcome must be one of {CLOSED_OUTCOMES}, not {outcome!r}")
    # Lock order vehicle -> task, as telemetry's transitions lock the vehicle first.
    vehicle_id = OpsTask.objects.filter(id=task_id).values_list("vehicle_id", flat=True).first()
    if vehicle_id is None:
        raise errors.OpsTaskNotFound()
    vehicle = lock_vehicle(vehicle_id)
    task = ops.lock_task(task_id)
    if not task.is_open:
        return task
    before = {"state": task.state}
    task.state, task.closed_at, task.closed_by, task.outcome = outcome, timezone.now(), actor, note[:300]
    task.save(update_fields=["state", "closed_at", "closed_by", "outcome"])
    audit.audit_staff_action(actor=actor, action="fleet.task_close", obj=task, before=before, reason=note,
                             after={"state": task.state, "outcome": task.outcome})
    ops.task_pushed(task, "ops_task.closed")
    if outcome == OpsTaskState.DONE and actor is not None:
        _release(task, vehicle, actor)
    return task


def _release(task: OpsTask, vehicle: Vehicle, actor: Any) -> None:
    if vehicle.status not in RELEASES.get(task.kind, ()):
        return
    if OpsTask.objects.filter(vehicle_id=vehicle.id, kind__in=HOLDING_KINDS, state__in=TASK_OPEN_STATES).exists():
        return  # e.g. inspected, but a repair is still open
    if vehicle.status == Status.LOW_BATTERY:  # a swapped battery: MDS battery_charged
        vehicle_transition(vehicle_id=vehicle.id, event_types=["battery_charged"], status=Status.AVAILABLE,
                           actor=actor, actor_kind=ActorKind.OPS, locked=vehicle)
        push.fleet_positions(vehicle.city_id, [{
            "id": str(vehicle.id), "code": vehicle.code, "lat": vehicle.lat, "lon": vehicle.lon,
            "status": Status.AVAILABLE, "battery_pct": vehicle.battery_pct,
            "at": vehicle.position_at.isoformat() if vehicle.position_at else None}])
        return
    swapped = task.kind == OpsTaskKind.SWAP_BATTERY
    rental.vehicle_back_in_service(vehicle_id=vehicle.id, actor=actor, by_battery=not swapped, locked=vehicle)
    if vehicle.status == Status.LOW_BATTERY:
        ops.ops_tasks_open(tasks=[ops.TaskSpec(vehicle_id=vehicle.id, city_id=vehicle.city_id,
                                               kind=OpsTaskKind.SWAP_BATTERY, reason="back from maintenance, battery low")])


def ops_task_note_add(*, task_id: uuid.UUID, author: Any, text: str = "", photo: UploadedFile | None = None) -> OpsTaskNote:
    """A note (text, photo or both) on a task, open or closed. The photo is checked and re-encoded
    (``core.uploads.image_clean``: ``upload_too_large`` 413, ``upload_type_unsupported`` 415) before the write."""
    cleaned = uploads.image_clean(photo) if photo is not None else None  # CPU-bound: before the transaction
    text = text.strip()
    if not text and cleaned is None:
        raise errors.OpsTaskNoteEmpty()
    with transaction.atomic():
        task = ops.lock_task(task_id)
        note = OpsTaskNote(task=task, author=author, text=text[:2000], created_at=timezone.now())
        if cleaned is not None:
            note.photo.save(cleaned.name or "photo.jpg", cleaned, save=False)
        note.save()
        audit.audit_staff_action(actor=author, action="fleet.task_note", obj=task,
                                 after={"note": note.text, "photo": note.photo.name or ""})
    return note
