"""Commands sent to a vehicle's IoT unit, with their delivery lifecycle."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models

from fleet.models.vehicles import Vehicle


class CommandKind(models.TextChoices):
    LOCK = "lock"
    UNLOCK = "unlock"
    LOCATE = "locate", "Ring / locate"
    ALARM = "alarm"
    SET_SPEED_LIMIT = "set_speed_limit"
    OPEN_BATTERY = "open_battery", "Open battery compartment"


class CommandState(models.TextChoices):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, gateway call in flight
    SENT = "sent"
    ACKED = "acked"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # its owner withdrew it (a ride cancelled while its unlock was open)


OPEN_STATES = (CommandState.QUEUED, CommandState.SENDING, CommandState.SENT)

# How long a command stays deliverable after it was queued. A vehicle that comes back online later must not
# execute it (a stale lock would immobilise a rider mid-trip).
TTL: dict[str, timedelta] = {
    CommandKind.LOCK: timedelta(seconds=60),
    CommandKind.UNLOCK: timedelta(seconds=30),
    CommandKind.LOCATE: timedelta(seconds=120),
    CommandKind.ALARM: timedelta(seconds=120),
    CommandKind.SET_SPEED_LIMIT: timedelta(seconds=60),
    CommandKind.OPEN_BATTERY: timedelta(seconds=60),
}


class Command(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(max_length=20, choices=CommandKind.choices)
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=12, choices=CommandState.choices, default=CommandState.QUEUED)
    idempotency_key = models.CharField(max_length=100, unique=True)
    correlation_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    ack_deadline = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "ack_deadline"], name="command_state_deadline"),
            models.Index(fields=["vehicle", "-created_at"], name="command_vehicle_created"),
            models.Index(fields=["-created_at"], name="command_created"),  # the admin list, newest first
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.vehicle_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES
