"""The telemetry history: every accepted reading, in a table range-partitioned by day (migration 0001).

Django does not manage partitioned tables, so the table is created by SQL and this model only reads it
(admin, tests, reports). Rows are written by ``telemetry.storage`` with COPY, never through the ORM.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models


class HistoryPoint(models.Model):
    """One reading of one vehicle. (vehicle_id, seq, at) is unique: a replayed message is stored once."""

    pk = models.CompositePrimaryKey("vehicle_id", "seq", "at")
    vehicle_id = models.UUIDField()
    seq = models.BigIntegerField()
    at = models.DateTimeField(help_text="Device time (the partition key)")
    received_at = models.DateTimeField(help_text="When an edge accepted it")
    lat = models.FloatField(null=True)
    lon = models.FloatField(null=True)
    accuracy_m = models.FloatField(null=True)
    heading = models.FloatField(null=True)
    speed_kph = models.FloatField(null=True)
    battery_pct = models.SmallIntegerField(null=True)
    locked = models.BooleanField(null=True)
    odometer_m = models.BigIntegerField(null=True)
    alarms = ArrayField(models.CharField(max_length=16), null=True)
    ack_id = models.UUIDField(null=True, help_text="Correlation id of an acknowledged command")
    ack_ok = models.BooleanField(null=True)

    class Meta:
        managed = False
        db_table = "telemetry_reading"
        ordering = ["vehicle_id", "seq"]

    def __str__(self) -> str:
        return f"{self.vehicle_id}#{self.seq}"
