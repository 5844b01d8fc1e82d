"""Vehicle commands: queue, deliver through the gateway, cancel, time out (the vehicle's answers: ``answers``).

Lifecycle ``queued -> sending -> sent -> acked | failed | timed_out``, and ``queued -> expired`` when the TTL
passed before delivery. Every state change is a conditional UPDATE on the expected state, so a duplicate task
delivery, a late acknowledgement and the timeout sweep cannot overwrite each other.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from core import audit
from core.db import conflict_guard, joins_transaction

# fleet.tasks imports fleet.services too (its tasks call these): the Celery pattern, as in accounts.services;
# neither module uses the other while loading.
from fleet import errors, gateway, signals, tasks
from fleet.models import Command, CommandKind, CommandState, Vehicle
from fleet.models.commands import OPEN_STATES, TTL
from fleet.selectors.vehicles import vehicle_is_moving
from fleet.services.transitions import lock_vehicle
from fleet.states import Status

# Sent after commit when a command reaches a final state (ack, refusal, timeout, expiry), with ``command=`` the
# Command; defined in fleet.signals, importable from here too (the rides app listens to move a ride on).
command_closed = signals.command_closed
logger = logging.getLogger(__name__)


def _check_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    if kind not in CommandKind.values:
        raise errors.CommandInvalid(f"Unknown command {kind!r}.", kinds=CommandKind.values)
    if kind != CommandKind.SET_SPEED_LIMIT:
        if params:
            raise errors.CommandInvalid(f"{kind} takes no parameters.")
        return {}
    limit = params.get("max_speed_kph")
    if set(params) != {"max_speed_kph"} or not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 100:
        raise errors.CommandInvalid("set_speed_limit needs max_speed_kph, an integer from 0 to 100.")
    return {"max_speed_kph": limit}


def is_immobilising(kind: str, params: dict[str, Any]) -> bool:
    """Lock and throttle cut (speed limit 0) must never reach a moving vehicle."""
    return kind == CommandKind.LOCK or (kind == CommandKind.SET_SPEED_LIMIT and params.get("max_speed_kph") == 0)


def _existing(key: str, vehicle_id: uuid.UUID, kind: str, params: dict[str, Any]) -> Command | None:
    command = Command.objects.filter(idempotency_key=key).first()
    if command is not None and (command.vehicle_id, command.kind, command.params) != (vehicle_id, kind, params):
        raise errors.CommandIdempotencyConflict()
    return command


@joins_transaction
def command_queue(
    *, vehicle_id: uuid.UUID, kind: str, params: dict[str, Any] | None = None, actor: Any = None,
    idempotency_key: str | None = None, locked: Vehicle | None = None, new_key: bool = False,
    audited: bool = False,
) -> Command:
    """Queue a command and send it after commit. The same ``idempotency_key`` returns the same command.

    Runs in the caller's transaction (its checks come before its one INSERT). ``locked``: the vehicle row the
    caller already holds with ``lock_vehicle`` in this transaction. ``new_key``: the caller knows no command has
    this key yet (it names something created in this request), so the look-up for a replay is skipped; a
    concurrent one with the same key still meets the unique key and gets that command. ``audited``: a staff
    member asked for this command (API, admin, fleet map), so it is recorded in the audit log; the commands
    other services queue (a ride's unlock, a force-end's lock) are recorded as that action, not again.
    """
    params = _check_params(kind, params or {})
    key = idempotency_key or uuid.uuid4().hex
    if not new_key and (existing := _existing(key, vehicle_id, kind, params)) is not None:
        return existing
    vehicle = lock_vehicle(vehicle_id, held=locked)
    if vehicle.status == Status.RETIRED:
        raise errors.VehicleRetired()
    if is_immobilising(kind, params) and vehicle_is_moving(vehicle):
        raise errors.VehicleMoving(speed_kph=vehicle.speed_kph)
    try:
        with conflict_guard():
            command = Command.objects.create(vehicle=vehicle, kind=kind, params=params, actor=actor,
                                             idempotency_key=key, expires_at=timezone.now() + TTL[kind])
    except IntegrityError:  # the same key, queued concurrently
        return _existing(key, vehicle_id, kind, params) or Command.objects.get(idempotency_key=key)
    if audited:
        audit.audit_staff_action(actor=actor, action="fleet.command", obj=vehicle,
                                 after={"command": kind, **({"params": params} if params else {}),
                                        "command id": str(command.id)})
    transaction.on_commit(lambda: tasks.command_send.delay(str(command.id)))
    return command


_QUEUE_MANY = """
    INSERT INTO fleet_command (id, vehicle_id, kind, params, state, idempotency_key, correlation_id, attempts,
                               created_at, expires_at, failure_reason)
    SELECT c.id, c.vehicle_id, c.kind, c.params::jsonb, 'queued', c.key, gen_random_uuid(), 0, %s, c.expires_at, ''
      FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])
           AS c(id, vehicle_id, kind, params, key, expires_at)
      JOIN fleet_vehicle v ON v.id = c.vehicle_id AND v.status <> 'retired'
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
"""


def commands_queue_many(*, commands: Sequence[tuple[uuid.UUID, str, dict[str, Any], str]]) -> list[uuid.UUID]:
    """Queue many system commands in one INSERT, each sent after commit: ``(vehicle_id, kind, params,
    idempotency_key)``. For telemetry's per-batch reactions (slow-zone speed limits). A key already used queues
    nothing (a retried batch); retired vehicles are skipped. Immobilising commands are refused here
    (``CommandInvalid``): they need ``command_queue``'s moving-vehicle interlock. Returns the ids queued now."""
    if not commands:
        return []
    now = timezone.now()
    rows = []
    for vehicle_id, kind, params, key in commands:
        params = _check_params(kind, params)
        if is_immobilising(kind, params):
            raise errors.CommandInvalid(f"{kind} {params} immobilises the vehicle: use command_queue.")
        rows.append((uuid.uuid4(), vehicle_id, kind, json.dumps(params), key, now + TTL[kind]))
    with connection.cursor() as cursor:
        cursor.execute(_QUEUE_MANY, [now, *(list(column) for column in zip(*rows, strict=True))])
        queued = [row[0] for row in cursor.fetchall()]
    for command_id in queued:
        transaction.on_commit(partial(tasks.command_send.delay, str(command_id)))
    return queued


def _close(command: Command, state: str, reason: str = "") -> int:
    now = timezone.now()
    closed = Command.objects.filter(id=command.id, state__in=OPEN_STATES).update(
        state=state, failure_reason=reason, finished_at=now
    )
    if closed:
        command.state, command.failure_reason, command.finished_at = state, reason, now
        signals.send_command_closed(command)
    return closed


def _message(command: Command) -> gateway.OutboundCommand:
    return gateway.OutboundCommand(
        command_id=command.id, correlation_id=command.correlation_id, vehicle_id=command.vehicle_id,
        imei=command.vehicle.imei, kind=command.kind, params=command.params, expires_at=command.expires_at,
    )


def command_deliver(*, command_id: uuid.UUID) -> Command:
    """Send a queued command (the Celery task calls this). Not atomic on purpose: the claim commits before the
    gateway call, so the network call holds no lock and an acknowledgement may arrive while it is in flight."""
    claimed = Command.objects.filter(id=command_id, state=CommandState.QUEUED).update(
        state=CommandState.SENDING, attempts=F("attempts") + 1
    )
    command = Command.objects.select_related("vehicle").get(id=command_id)
    if not claimed:
        return command  # a duplicate delivery of the task: someone else has it, or it is closed
    if command.expires_at <= timezone.now():
        _close(command, CommandState.EXPIRED, "expired before delivery")
    elif is_immobilising(command.kind, command.params) and vehicle_is_moving(command.vehicle):
        _close(command, CommandState.FAILED, "vehicle_moving")
    else:
        _send(command)
    command.refresh_from_db()
    return command


def _send(command: Command) -> None:
    try:
        gateway.get_gateway().send(_message(command))
    except gateway.GatewayError:
        # Give the command back so the task's retry can claim it again; the TTL still bounds it.
        Command.objects.filter(id=command.id, state=CommandState.SENDING).update(state=CommandState.QUEUED)
        raise
    except gateway.GatewayRejected as exc:
        _close(command, CommandState.FAILED, f"gateway rejected: {exc}"[:200])
        return
    now = timezone.now()
    deadline = now + timedelta(seconds=settings.FLEET_COMMAND_ACK_TIMEOUT_S)
    Command.objects.filter(id=command.id, state=CommandState.SENDING).update(
        state=CommandState.SENT, sent_at=now, ack_deadline=deadline
    )


@joins_transaction
def command_cancel(*, command_id: uuid.UUID, reason: str) -> Command | None:
    """Withdraw an open command (its owner no longer wants it): ``cancelled``, announced like any closed command.

    A queued command is then never sent (delivery only claims ``queued``). An unlock that may already have
    reached the unit (``sending``/``sent``) is followed by a ``lock``, so a vehicle whose ride was cancelled is
    not left open; a late answer to the unlock is still recorded. Returns the command, or ``None`` when it was
    already closed. Runs in the caller's transaction (the rides app cancels a ride and its unlock together).
    """
    command = Command.objects.select_for_update().filter(id=command_id).first()
    if command is None or command.state not in OPEN_STATES:
        return None
    reached = command.state != CommandState.QUEUED
    command.state, command.failure_reason, command.finished_at = CommandState.CANCELLED, reason[:200], timezone.now()
    command.save(update_fields=["state", "failure_reason", "finished_at"])
    signals.send_command_closed(command)
    if reached and command.kind == CommandKind.UNLOCK:
        try:
            command_queue(vehicle_id=command.vehicle_id, kind=CommandKind.LOCK, idempotency_key=f"{command.id}:relock")
        except (errors.VehicleMoving, errors.VehicleRetired):  # ridden away meanwhile, or gone: ops see the vehicle
            logger.warning("unlock %s cancelled; vehicle %s not re-locked", command.id, command.vehicle_id)
    return command


def command_time_out(*, command_id: uuid.UUID, reason: str) -> bool:
    """Its owner stopped waiting (a ride past its unlock or lock TTL): an open command becomes ``timed_out`` now,
    so a late delivery cannot act on a vehicle given back. Not announced with ``command_closed``: the owner acts
    on the outcome itself. True when it was open. A late answer is still recorded (``command_ack``)."""
    return bool(Command.objects.filter(id=command_id, state__in=OPEN_STATES).update(
        state=CommandState.TIMED_OUT, failure_reason=reason, finished_at=timezone.now()))


_SWEEPS = [
    # (state, deadline field, new state, reason)
    (CommandState.SENT, "ack_deadline", CommandState.TIMED_OUT, "no acknowledgement"),
    (CommandState.SENDING, "expires_at", CommandState.TIMED_OUT, "delivery did not complete"),
    (CommandState.QUEUED, "expires_at", CommandState.EXPIRED, "expired before delivery"),
]


@transaction.atomic
def commands_expire_overdue(*, now: datetime | None = None) -> dict[str, int]:
    """Sent without an answer by the deadline -> ``timed_out``; stuck in ``sending`` past the TTL (the worker
    died mid-call) -> ``timed_out``; queued past the TTL -> ``expired``. Rows being answered right now are
    skipped (``SKIP LOCKED``) and left to the answer; each closed command is announced after commit."""
    now = now or timezone.now()
    counts = {CommandState.TIMED_OUT.value: 0, CommandState.EXPIRED.value: 0}
    for state, deadline, new_state, reason in _SWEEPS:
        due = list(Command.objects.select_for_update(skip_locked=True).filter(state=state, **{f"{deadline}__lt": now}))
        Command.objects.filter(id__in=[c.id for c in due], state=state).update(
            state=new_state, failure_reason=reason, finished_at=now
        )
        for command in due:
            command.state, command.failure_reason, command.finished_at = new_state, reason, now
            signals.send_command_closed(command)
        counts[new_state.value] += len(due)
    return counts
