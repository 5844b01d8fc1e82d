"""A transactional test's readings and history partitions do not outlive it: the history table is unmanaged, so
Django's flush leaves it alone and tests/conftest.py empties it. Each checker runs right after a test that wrote:
pytest-django runs the transactional tests after the others, in file order, so the checkers are transactional too."""

from __future__ import annotations

from typing import Any

import pytest

from telemetry import ingest, pipeline, storage
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms


def _apply_two_readings() -> None:
    vehicle: Any = VehicleFactory(lat=52.50, lon=13.40, battery_pct=90)
    t = now_ms()
    assert ingest.ingest(vehicle.id, [message(1, ts=t - 2000), message(2, ts=t - 1000)]).accepted == 2
    assert pipeline.drain_until_empty() == 2
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2 and storage.partitions()


@pytest.mark.django_db(transaction=True)
def test_a_test_marked_transactional_applies_readings() -> None:
    _apply_two_readings()


def test_the_next_test_sees_no_history_after_a_transactional_marker(transactional_db: Any) -> None:
    assert not HistoryPoint.objects.exists() and storage.partitions() == []


def test_a_test_asking_for_transactional_db_applies_readings(transactional_db: Any) -> None:
    _apply_two_readings()


@pytest.mark.django_db(transaction=True)
def test_the_next_test_sees_no_history_after_transactional_db() -> None:
    assert not HistoryPoint.objects.exists() and storage.partitions() == []
