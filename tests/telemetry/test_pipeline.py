"""Batch processing: order, duplicates, late messages, reclaim after a crash, poison entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fleet.models import Vehicle
from telemetry import ingest, pipeline, status, streams
from telemetry.models import HistoryPoint
from tests.fleet.factories import VehicleFactory
from tests.telemetry.conftest import message, now_ms

pytestmark = pytest.mark.django_db


@pytest.fixture
def vehicle(db: Any) -> Any:
    return VehicleFactory(lat=52.50, lon=13.40, position_at=datetime(2020, 1, 1, tzinfo=UTC), battery_pct=90)


def send(vehicle: Any, *messages: dict[str, Any]) -> None:
    assert ingest.ingest(vehicle.id, messages).accepted == len(messages)


def test_newest_device_time_wins_whatever_the_arrival_order(vehicle: Any) -> None:
    t = now_ms()
    send(vehicle, message(3, ts=t - 1000, lat=52.53, lon=13.43, battery_pct=70),
         message(1, ts=t - 3000, lat=52.51, lon=13.41), message(2, ts=t - 2000, lat=52.52, lon=13.42))
    assert pipeline.drain_until_empty() == 3
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon, vehicle.battery_pct) == (52.53, 13.43, 70)
    assert vehicle.position_at == datetime.fromtimestamp((t - 1000) / 1000, UTC)
    assert list(HistoryPoint.objects.filter(vehicle_id=vehicle.id).values_list("seq", flat=True)) == [1, 2, 3]


def test_duplicates_are_stored_and_applied_once(vehicle: Any) -> None:
    t = now_ms()
    first = message(7, ts=t, lat=52.52, lon=13.41, odometer_m=1000)
    send(vehicle, first, dict(first))  # twice in one entry
    send(vehicle, dict(first))  # and again in another entry of the same batch
    assert pipeline.drain_until_empty() == 3  # three messages, one reading
    send(vehicle, dict(first))  # a retransmission after the batch committed
    pipeline.drain_until_empty()
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 1
    assert (status.snapshot()["stats"]["new"], status.snapshot()["stats"]["duplicates"]) == (1, 3)


def test_late_message_is_kept_in_history_but_does_not_move_the_vehicle_back(vehicle: Any) -> None:
    t = now_ms()
    send(vehicle, message(10, ts=t, lat=52.60, lon=13.50, battery_pct=60))
    pipeline.drain_until_empty()
    send(vehicle, message(9, ts=t - 60_000, lat=52.40, lon=13.30, battery_pct=65))
    pipeline.drain_until_empty()
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon, vehicle.battery_pct) == (52.60, 13.50, 60)
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2
    assert status.snapshot()["stats"]["late"] == 1


def test_readings_without_position_update_the_rest(vehicle: Any) -> None:
    send(vehicle, message(1, battery_pct=12, locked=False, speed_kph=14.5))
    pipeline.drain_until_empty()
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.battery_pct, vehicle.locked, vehicle.speed_kph) == (52.50, 12, False, 14.5)


def test_many_vehicles_in_one_batch_one_statement(django_assert_max_num_queries: Any) -> None:
    vehicles: list[Any] = [VehicleFactory() for _ in range(30)]
    for i, v in enumerate(vehicles):
        send(v, message(1, lat=52.0 + i / 100, lon=13.0), message(2, battery_pct=50))
    streams.ensure_groups()
    pipeline.drain_until_empty()  # creates the day partition outside the measured block
    for i, v in enumerate(vehicles):
        send(v, message(3, lat=52.5 + i / 100, lon=13.5))
    entries = [e for shard in range(streams.shards()) for e in streams.read_new(shard, 1000, "t")]
    by_shard: dict[int, list[Any]] = {}
    for entry_id, packed in entries:
        by_shard.setdefault(0, []).append((entry_id, packed))
    # history COPY (+ stage, move), the vehicle update and the reactions' own few queries: not one per message
    with django_assert_max_num_queries(20):
        result = pipeline.apply_batch(0, by_shard[0])
    assert result.new == 30
    assert {round(lat or 0, 2) for lat in Vehicle.objects.filter(id__in=[v.id for v in vehicles]).values_list(
        "lat", flat=True)} == {round(52.5 + i / 100, 2) for i in range(30)}


def test_entries_of_a_crashed_consumer_are_reclaimed_and_applied_once(vehicle: Any) -> None:
    send(vehicle, message(1, lat=52.51, lon=13.41), message(2, lat=52.52, lon=13.42))
    shard = streams.shard_of(vehicle.id)
    streams.ensure_groups()
    taken = streams.read_new(shard, 100, "crashed-worker")  # read, never applied, never acknowledged
    assert len(taken) == 1
    assert pipeline.drain_until_empty() == 0  # nothing new to read: the entry is pending on the dead consumer
    assert pipeline.drain_until_empty(reclaim_idle_ms=0) == 2
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2
    assert status.snapshot()["pending"] == 0
    assert status.snapshot()["stats"]["reclaimed"] == 1


def test_batch_committed_but_not_acknowledged_is_not_applied_twice(vehicle: Any, monkeypatch: Any) -> None:
    send(vehicle, message(1, lat=52.51, lon=13.41, odometer_m=5))
    # The worker dies right after COMMIT: the acknowledgement and the counters (one round trip) never happen.
    monkeypatch.setattr(streams, "record_batch", lambda **counters: None)
    assert pipeline.drain_until_empty() == 1
    monkeypatch.undo()
    assert status.snapshot()["pending"] == 1
    pipeline.drain_until_empty(reclaim_idle_ms=0)
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 1
    snap = status.snapshot()
    assert (snap["pending"], snap["stats"].get("new", 0), snap["stats"]["duplicates"]) == (0, 0, 1)


def test_a_poisonous_entry_goes_to_the_dead_letters_and_the_rest_is_applied(vehicle: Any) -> None:
    other: Any = VehicleFactory()
    send(vehicle, message(1, lat=52.51, lon=13.41))
    shard = streams.shard_of(vehicle.id)
    # Past validation (a hand-made entry): the vehicle's CHECK constraint refuses a battery of 300 %. Its device
    # time is a second ahead: a reading in the millisecond of the factory's position_at would count as stale, skip
    # the vehicle's update and never meet the constraint.
    ahead = now_ms() + 1000
    bad = ingest.pack_entry(other.id, now_ms(), [[1, ahead, None, None, None, None, None, 300, None, None,
                                                  None, None]])
    streams.append([(shard, bad), (shard, b"not msgpack")])
    send(vehicle, message(2, lat=52.52, lon=13.42))
    pipeline.drain_until_empty()  # the batch with the bad entry fails and stays pending
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 0
    pipeline.drain_until_empty(reclaim_idle_ms=0)  # reclaimed, split: the bad one is dead-lettered
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2
    assert not HistoryPoint.objects.filter(vehicle_id=other.id).exists()
    snap = status.snapshot()
    assert (snap["dead_letters"], snap["pending"], snap["backlog"]) == (2, 0, 0)


def test_alarms_and_acks_are_kept_in_the_history(vehicle: Any) -> None:
    correlation = "6f1c2a9e-61a4-4d2b-9a3e-0b1c2d3e4f50"
    send(vehicle, message(1, alarms=["tipped_over", "tamper"], accuracy=3),
         message(2, ack={"correlation_id": correlation, "ok": False, "reason": "jammed"}))
    pipeline.drain_until_empty()
    first, second = HistoryPoint.objects.filter(vehicle_id=vehicle.id).order_by("seq")
    assert (first.alarms, first.ack_id, second.alarms, str(second.ack_id), second.ack_ok) == (
        ["tipped_over", "tamper"], None, None, correlation, False)


def test_a_transient_database_error_is_retried_at_once_and_never_dead_letters(vehicle: Any, monkeypatch: Any) -> None:
    from django.db import OperationalError

    from telemetry import storage

    real, calls = storage.insert_skipping_duplicates, []

    def flaky(rows: Any) -> Any:
        calls.append(len(rows))
        if len(calls) in (1, 3, 4):  # first batch; then the reclaimed batch and its split entry
            raise OperationalError("deadlock detected")
        return real(rows)

    monkeypatch.setattr(storage, "insert_skipping_duplicates", flaky)
    send(vehicle, message(1, lat=52.51, lon=13.41))
    assert pipeline.drain_until_empty() == 1  # failed once, applied by the immediate retry
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 1
    send(vehicle, message(2))
    streams.ensure_groups()
    streams.read_new(streams.shard_of(vehicle.id), 10, "crashed")  # left pending by a dead consumer
    pipeline.drain_until_empty(reclaim_idle_ms=0)  # reclaimed: fails, split: fails again (transient)
    snap = status.snapshot()
    assert (snap["dead_letters"], snap["pending"]) == (0, 1)  # still pending, not dead-lettered
    pipeline.drain_until_empty(reclaim_idle_ms=0)
    assert HistoryPoint.objects.filter(vehicle_id=vehicle.id).count() == 2
