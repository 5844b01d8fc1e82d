"""The ride socket's running cost is the fare engine on the ride's locked tariff, as rides computes the fare."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.services import tariffs
from live import selectors
from rides import services as ride_services
from rides.models import Ride
from tests.live.helpers import active_ride

pytestmark = pytest.mark.django_db(transaction=True)  # the unlock ack moves the ride on in on_commit


def test_running_cost_matches_rides_fare_and_keeps_the_locked_tariff(card_rider, vehicle, city, scooter):
    ride = active_ride(card_rider, vehicle)
    now = timezone.now()
    Ride.objects.filter(id=ride.id).update(started_at=now - timedelta(seconds=301), paused_seconds=60)
    # A new tariff after the start must not change what this ride costs.
    tariffs.tariff_publish(city=city, vehicle_type=scooter, unlock_fee=Decimal("9.00"),
                           brackets=[{"start_minute": 0, "per_minute": "3.00"}], pause_per_minute=Decimal("1.00"))
    ride.refresh_from_db()

    live = selectors.ride_live_get(rider=card_rider, ride_id=ride.id)
    shown = live.to_json(now.timestamp())

    expected = ride_services.ride_fare(ride=ride, at=now).total
    # 1.00 unlock + 5 riding minutes (241 s) x 0.25 + 1 paused minute x 0.10
    assert expected == Decimal("2.35")
    assert shown["running_cost"]["total"] == {"amount": "2.35", "currency": "EUR"}
    assert (shown["elapsed_s"], shown["paused_s"], shown["state"]) == (301, 60, "active")


def test_running_cost_follows_the_clock_between_updates(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    live = selectors.ride_live_get(rider=card_rider, ride_id=ride.id)
    start = live.started_at
    assert start is not None
    costs = [live.to_json(start + seconds)["running_cost"]["total"]["amount"] for seconds in (0, 30, 61, 125)]
    assert costs == ["1.00", "1.25", "1.50", "1.75"]


def test_ended_ride_snapshot_carries_the_receipt(card_rider, vehicle):
    ride = active_ride(card_rider, vehicle)
    ride_services.ride_end_now(ride_id=ride.id, reason="ops")
    shown = selectors.ride_live_get(rider=card_rider, ride_id=ride.id).to_json()
    assert shown["state"] == "ended"
    assert shown["running_cost"] is None
    assert shown["ended"]["reason"] == "ops"
    assert shown["ended"]["fare_total"]["currency"] == "EUR"
    fare = Ride.objects.get(id=ride.id).fare
    assert fare is not None
    assert shown["ended"]["receipt"]["total"] == fare["total"]
