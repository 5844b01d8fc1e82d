"""History partitions (ahead, on demand, retention) and the pipeline's visibility (/metrics, telemetry_status)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from telemetry import ingest, pipeline, storage
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms

pytestmark = pytest.mark.django_db

TODAY = datetime.now(UTC).date()


def test_partitions_are_created_ahead_and_idempotently() -> None:
    created = storage.ensure_ahead(ahead_days=3)
    assert created == [TODAY + timedelta(days=i) for i in range(-1, 4)]
    storage._known.clear()
    assert storage.ensure_ahead(ahead_days=3) == []
    assert storage.partitions() == created


def test_a_batch_creates_the_partition_of_an_older_day_on_demand() -> None:
    vehicle: Any = VehicleFactory()
    three_days_ago = now_ms() - 3 * 86_400_000
    ingest.ingest(vehicle.id, [message(1, ts=three_days_ago), message(2)])
    pipeline.drain_until_empty()
    assert {TODAY, TODAY - timedelta(days=3)} <= set(storage.partitions())
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2


def test_retention_drops_only_old_partitions() -> None:
    days = [TODAY - timedelta(days=n) for n in (40, 31, 30, 1, 0)]
    storage.ensure_partitions(days)
    out = StringIO()
    call_command("telemetry_retention", "--days", "30", "--dry-run", stdout=out)
    assert "would drop 2 partition(s)" in out.getvalue()
    assert len(storage.partitions()) == 5
    call_command("telemetry_retention", "--days", "30", stdout=StringIO())
    assert storage.partitions() == days[2:]


def test_retention_refuses_to_drop_days_the_edges_still_accept(settings: Any) -> None:
    settings.TELEMETRY_MAX_AGE_S = 7 * 86_400
    with pytest.raises(CommandError, match="at least 7"):
        call_command("telemetry_retention", "--days", "3")


def test_partition_names_are_per_day() -> None:
    assert storage.partition_name(date(2026, 1, 2)) == "telemetry_reading_p20260102"


def _traffic() -> None:
    vehicle: Any = VehicleFactory()
    ingest.ingest(vehicle.id, [message(1, lat=52.5, lon=13.4), message(2), {"seq": 3}])
    ingest.ingest(vehicle.id, [message(2)])  # a duplicate
    pipeline.drain_until_empty()
    ingest.ingest(vehicle.id, [message(4)])  # queued, not applied


def test_metrics_expose_the_pipeline() -> None:
    _traffic()
    text = Client().get("/metrics").content.decode()
    assert 'freewheel_telemetry_rejected_total{code="missing_field"} 1.0' in text
    assert "freewheel_telemetry_batches_total 1.0" in text
    assert "freewheel_telemetry_new_total 2.0" in text
    assert "freewheel_telemetry_duplicates_total 1.0" in text
    assert sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("freewheel_telemetry_consumer_lag{")) == 1.0
    rate = next(line for line in text.splitlines() if line.startswith("freewheel_telemetry_processing_rate "))
    assert 0.04 <= float(rate.split()[1]) <= 0.07  # 3 messages in the last minute
    assert 'freewheel_telemetry_latency_seconds_bucket{le="+Inf"} 2.0' in text


def test_status_command_text_and_json() -> None:
    _traffic()
    out = StringIO()
    call_command("telemetry_status", "--json", stdout=out)
    snap = json.loads(out.getvalue())
    assert (snap["backlog"], snap["pending"], snap["stats"]["messages"], snap["stats"]["duplicates"]) == (1, 0, 3, 1)
    assert snap["rejected"] == {"missing_field": 1}
    assert snap["avg_batch_size"] == 3.0
    assert snap["latency_ms_p99"] is not None
    out = StringIO()
    call_command("telemetry_status", stdout=out)
    text = out.getvalue()
    assert "backlog 1 entries (0 pending in workers)" in text
    assert "rejected: missing_field 1" in text
    out = StringIO()
    call_command("telemetry_status", "--drain", "--json", stdout=out, stderr=StringIO())
    assert json.loads(out.getvalue())["backlog"] == 0
