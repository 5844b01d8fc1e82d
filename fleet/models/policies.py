"""MDS Policies imported into a city's zones (``fleet.services.policy_import``): which policy replaced which."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from fleet.models.catalog import City


class ImportedPolicy(models.Model):
    """One MDS Policy applied to a city. Its ``prev_policies`` stay superseded: importing an older document again
    later does not bring their zones back (the zones themselves carry ``mds_policy_id``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    city = models.ForeignKey(City, on_delete=models.CASCADE, related_name="+")
    policy_id = models.UUIDField()
    name = models.CharField(max_length=255)
    published_at = models.DateTimeField()
    prev_policies = ArrayField(models.UUIDField(), default=list, blank=True)
    imported_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "imported MDS policy"
        verbose_name_plural = "imported MDS policies"
        constraints = [models.UniqueConstraint(fields=["city", "policy_id"], name="importedpolicy_city_policy")]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy_id})"
