"""fleet.services.readings.vehicles_record_readings: one statement for a batch's latest state, the rows before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.services.readings import LatestReading, vehicles_record_readings
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


def test_returns_each_vehicle_as_it_was_with_aware_utc_times_and_stores_the_new_state(city, scooter):
    before_at = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)
    vehicle = VehicleFactory.create(city=city, vehicle_type=scooter, lat=52.52, lon=13.40, battery_pct=70,
                                    position_at=before_at, last_seen_at=before_at + timedelta(seconds=1))
    at = before_at + timedelta(seconds=30)

    before = vehicles_record_readings(readings=[LatestReading(
        vehicle_id=vehicle.id, at=at, seen_at=at, lat=52.53, lon=13.41, position_at=at, battery_pct=69)])

    old = before[vehicle.id]
    # psycopg's own timestamptz loader on this cursor: the same aware UTC datetimes Django's loader gives.
    assert (old.position_at, old.last_seen_at) == (before_at, before_at + timedelta(seconds=1))
    assert old.position_at is not None
    assert old.position_at.utcoffset() == timedelta(0) and old.position_at.tzinfo is UTC
    assert (old.lat, old.lon, old.battery_pct, old.code) == (52.52, 13.40, 70, vehicle.code)
    vehicle.refresh_from_db()
    assert (vehicle.lat, vehicle.lon, vehicle.position_at, vehicle.last_seen_at, vehicle.battery_pct) == (
        52.53, 13.41, at, at, 69)
