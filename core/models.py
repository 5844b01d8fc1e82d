from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Cast, Upper
from django.utils import timezone


class IdempotencyKey(models.Model):
    """The first response to a POST carrying ``Idempotency-Key``, replayed to retries for 24 h."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    scope = models.CharField(max_length=64, help_text="user:<id> or anon: keys are private to their caller")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    locked_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique_per_scope")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"


class AuditSource(models.TextChoices):
    ADMIN = "admin", "admin"
    API = "api", "API"
    CONSOLE = "console", "console page"
    COMMAND = "command", "management command"
    SYSTEM = "system", "system"


class AuditEntry(models.Model):
    """One staff action: who did what to which object, when, from where, and what it changed (core.audit).

    Append-only: a trigger (migration 0002) refuses UPDATE, DELETE and TRUNCATE on the table, whoever asks.
    Hence the actor is a foreign key without a database constraint and without cascade: deleting a user changes
    no entry (``actor_label`` keeps who it was). ``city_id`` is the object's city where it has one (no foreign
    key either: core is below fleet, and an entry outlives its city)."""

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, verbose_name="time")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, db_index=False, related_name="+")  # indexed with "at" below
    actor_label = models.CharField(max_length=254, blank=True, verbose_name="actor email",
                                   help_text="who acted, kept when the user is deleted")
    action = models.CharField(max_length=64, help_text="stable slug, e.g. billing.refund, admin.change")
    object_type = models.CharField(max_length=100, help_text="app_label.model, e.g. fleet.vehicle")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True, verbose_name="object")
    city_id = models.UUIDField(null=True, blank=True, verbose_name="city")
    before = models.JSONField(default=dict, blank=True, help_text="changed fields before (secrets masked)")
    after = models.JSONField(default=dict, blank=True, help_text="changed fields after (secrets masked)")
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=AuditSource.choices, default=AuditSource.SYSTEM)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name="client IP")

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        default_permissions = ("view",)  # nobody adds, changes or deletes an entry, not even through the admin
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_at"),
            models.Index(fields=["action", "at"], name="audit_action_at"),
            models.Index(fields=["source", "at"], name="audit_source_at"),
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object"),
            models.Index(fields=["object_id"], name="audit_object_id"),
            models.Index(fields=["actor", "at"], name="audit_actor_at"),
            models.Index(fields=["actor_label", "at"], name="audit_actor_label_at"),  # the actor filter's values
            models.Index(fields=["city_id", "at"], name="audit_city_at"),
            # The admin's search by the beginning of an email or an object's name, any case.
            models.Index(OpClass(Upper(Cast("actor_label", models.TextField())), name="text_pattern_ops"),
                         name="audit_actor_label_prefix"),
            models.Index(OpClass(Upper(Cast("object_repr", models.TextField())), name="text_pattern_ops"),
                         name="audit_object_repr_prefix"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_repr or self.object_id}"
