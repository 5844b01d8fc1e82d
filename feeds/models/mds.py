"""MDS Provider: the agencies (a city's regulator) that pull the feed, their credentials and the audit log of pulls.

A credential is a bearer token shown once when issued; only its SHA-256 is stored (like a vehicle's IoT secret),
with a short public prefix to tell tokens apart in the admin and the audit log.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from fleet.models import City


class Agency(models.Model):
    """A regulator that pulls the MDS Provider feed; it sees the cities it regulates and nothing else."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120, unique=True)
    cities = models.ManyToManyField(City, related_name="mds_agencies", blank=True,
                                    help_text="The cities this agency regulates: the only data its credentials see")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "MDS agency"
        verbose_name_plural = "MDS agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgencyCredential(models.Model):
    """One bearer token of an agency. Revoked credentials stay, so old pulls keep naming them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="credentials")
    prefix = models.CharField(max_length=16, unique=True, editable=False,
                              help_text="Start of the token (mds_<prefix>_...), to recognise it; not a secret")
    token_hash = models.CharField(max_length=64, unique=True, editable=False, help_text="SHA-256 of the token")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "MDS agency credential"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"mds_{self.prefix}_…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class MdsPull(models.Model):
    """One request to ``/mds/``: who, what (path and query), the answer's status, rows and duration.

    Written for every request, refused ones included (``agency`` is empty when the token was not recognised).
    """

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(db_index=True, help_text="When the request arrived")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="pulls")
    credential = models.ForeignKey(AgencyCredential, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="pulls")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    params = models.JSONField(default=dict, blank=True, help_text="The query parameters")
    city_slugs = models.CharField(max_length=255, blank=True, help_text="The cities the answer covered")
    status = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=64, blank=True, help_text="The error code of a refused request")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Records returned (vehicles, trips, ...)")
    duration_ms = models.PositiveIntegerField(help_text="Until the last byte for a streamed answer")

    class Meta:
        verbose_name = "MDS pull"
        ordering = ["-at"]
        indexes = [models.Index(fields=["agency", "-at"], name="mdspull_agency_at")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
