"""Ops alerts (something happened to a vehicle that a person should look at) and ops tasks (field work to do).

Both are opened by the system (telemetry reactions, rider problem reports) or by ops, at most one open per
vehicle and kind (partial unique constraints): a vehicle that keeps reporting "tipped over" has one open alert,
not one per message. Written only through ``fleet.services.ops``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from fleet.models.catalog import City
from fleet.models.vehicles import Vehicle


class OpsAlertKind(models.TextChoices):
    TIPPED_OVER = "tipped_over"
    TAMPER = "tamper"
    NO_RIDE_ZONE = "no_ride_zone", "Entered a no-ride zone on a trip"
    SPEED_LIMIT_NOT_APPLIED = "speed_limit_not_applied", "Speed limit could not be sent"
    LOCK_UNCONFIRMED = "lock_unconfirmed", "Ride ended without a confirmed lock"
    COMMS_LOST = "comms_lost", "Lost contact"
    BATTERY_LOW = "battery_low", "Battery low"
    UNAUTHORISED_MOVEMENT = "unauthorised_movement", "Moving without a trip"
    OUTSIDE_OPERATING_AREA = "outside_operating_area", "Outside the operating area"


class OpsAlertSeverity(models.TextChoices):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


SEVERITY_RANK: dict[str, int] = {OpsAlertSeverity.INFO: 0, OpsAlertSeverity.WARNING: 1, OpsAlertSeverity.CRITICAL: 2}


class OpsAlert(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="ops_alerts")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="+", help_text="The vehicle's city")
    kind = models.CharField(max_length=24, choices=OpsAlertKind.choices)
    severity = models.CharField(max_length=8, choices=OpsAlertSeverity.choices, default=OpsAlertSeverity.WARNING)
    message = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # db_default: the batch INSERT of fleet.services.ops names only the columns it fills.
    resolved_by_system = models.BooleanField(
        default=False, db_default=False, help_text="Resolved automatically because the condition cleared (no staff member)")
    resolution = models.CharField(max_length=120, blank=True, default="", db_default="", help_text="Why it was resolved, e.g. comms restored")
    condition_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time the condition was observed (unauthorised movement)")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "kind"], condition=Q(resolved_at__isnull=True),
                                    name="opsalert_one_open_per_vehicle_kind"),
        ]
        indexes = [models.Index(fields=["city", "-opened_at"], name="opsalert_city_opened",
                                condition=Q(resolved_at__isnull=True)),
                   models.Index(fields=["-opened_at"], name="opsalert_opened")]  # the admin list, newest first

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.vehicle_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class OpsTaskKind(models.TextChoices):
    SWAP_BATTERY = "swap_battery"
    INSPECT = "inspect"
    REPAIR = "repair"
    RETRIEVE = "retrieve"
    REBALANCE = "rebalance"
    SECURE = "secure", "Secure (lock) a vehicle left unlocked"


class OpsTaskState(models.TextChoices):
    OPEN = "open"
    ASSIGNED = "assigned"
    DONE = "done"
    NOT_DONE = "not_done", "Not done"
    CANCELLED = "cancelled"


class OpsTaskPriority(models.IntegerChoices):
    """Lower comes first in a technician's list."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4


# The priority of a task opened by the system (and the default of one opened by hand): an unlocked or damaged
# vehicle on the street before an empty battery, before moving a vehicle somewhere better.
KIND_PRIORITY: dict[str, int] = {
    OpsTaskKind.SECURE: OpsTaskPriority.URGENT, OpsTaskKind.RETRIEVE: OpsTaskPriority.URGENT,
    OpsTaskKind.REPAIR: OpsTaskPriority.HIGH, OpsTaskKind.INSPECT: OpsTaskPriority.HIGH,
    OpsTaskKind.SWAP_BATTERY: OpsTaskPriority.NORMAL, OpsTaskKind.REBALANCE: OpsTaskPriority.LOW,
}


TASK_OPEN_STATES = (OpsTaskState.OPEN, OpsTaskState.ASSIGNED)


class OpsTaskCondition(models.TextChoices):
    """Why the sweep opened a task (``fleet.services.alert_sweep``); it closes the task when this no longer holds."""

    NONE = "", "None (opened by hand or by an event)"
    IDLE = "idle", "Idle where it stands"
    OUTSIDE_AREA = "outside_area", "Parked outside the operating area"
    MISPARKED = "misparked", "Parked where no ride may end"


class OpsTask(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="ops_tasks")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="+", help_text="The vehicle's city")
    kind = models.CharField(max_length=16, choices=OpsTaskKind.choices)
    state = models.CharField(max_length=12, choices=OpsTaskState.choices, default=OpsTaskState.OPEN)
    reason = models.CharField(max_length=300, blank=True)
    # db_default: the batch INSERT of fleet.services.ops names only the columns it fills.
    priority = models.PositiveSmallIntegerField(choices=OpsTaskPriority.choices, default=OpsTaskPriority.NORMAL,
                                                db_default=OpsTaskPriority.NORMAL)
    outcome = models.CharField(max_length=300, blank=True, default="", db_default="",
                               help_text="What the technician found or did, said when closing")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    condition = models.CharField(
        max_length=16, choices=OpsTaskCondition.choices, blank=True, default="", db_default="",
        help_text="The condition the sweep opened it for; it closes the task by itself when the condition clears")
    condition_cleared_at = models.DateTimeField(
        null=True, blank=True, help_text="The condition cleared while someone held the task: left to them to close")
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="Empty when the system closed it (e.g. the battery was reported charged)",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["vehicle", "kind"], condition=Q(state__in=TASK_OPEN_STATES),
                                    name="opstask_one_open_per_vehicle_kind"),
            models.CheckConstraint(condition=Q(state__in=TASK_OPEN_STATES) | Q(closed_at__isnull=False),
                                   name="opstask_closed_has_time"),
        ]
        indexes = [models.Index(fields=["city", "state", "-created_at"], name="opstask_city_state_created"),
                   models.Index(fields=["-created_at"], name="opstask_created")]  # the admin list, newest first

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.vehicle_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in TASK_OPEN_STATES


class OpsTaskNote(models.Model):
    """A technician's note on a task, optionally with a photo (re-encoded by ``core.uploads.image_clean``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(OpsTask, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True, max_length=2000)
    photo = models.FileField(upload_to="fleet/tasks/%Y/%m/", blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at"]
        constraints = [models.CheckConstraint(condition=~Q(text="") | ~Q(photo=""), name="opstasknote_not_empty")]

    def __str__(self) -> str:
        return f"Note on {self.task_id}"
