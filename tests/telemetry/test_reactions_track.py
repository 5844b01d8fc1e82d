"""``rides.services.ride_track_append_batch``: the one statement telemetry uses for every ride of a batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet.geofence import haversine_m
from fleet.states import Status
from rides.models import Ride, RideState, RideTrackPoint
from rides.services.track import TrackFix, ride_track_append_batch
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


def ride(state: str = RideState.ACTIVE) -> Ride:
    vehicle = VehicleFactory.create(status=Status.ON_TRIP)
    return Ride.objects.create(id=vehicle.trip_id, rider=UserFactory.create(), vehicle=vehicle,
                               vehicle_type=vehicle.vehicle_type, city=vehicle.city, state=state, tariff={},
                               currency="EUR", ended_at=timezone.now() if state == RideState.ENDED else None)


def test_running_distance_accumulates_over_batches_from_the_previous_position() -> None:
    r = ride()
    t0 = timezone.now()
    first = ride_track_append_batch(fixes=[TrackFix(r.id, t0, 52.501, 13.40), TrackFix(r.id, t0 + timedelta(seconds=1),
                                                                                      52.502, 13.40)],
                                    origins={r.id: (52.500, 13.40)})
    second = ride_track_append_batch(fixes=[TrackFix(r.id, t0 + timedelta(seconds=2), 52.503, 13.40)],
                                     origins={r.id: (52.502, 13.40)})
    step = haversine_m(13.40, 52.500, 13.40, 52.501)
    assert (first[r.id].added, first[r.id].distance_m) == (2, round(2 * step))
    assert (second[r.id].added, second[r.id].distance_m) == (1, round(2 * step) + round(step))
    assert first[r.id].rider_id == r.rider_id
    r.refresh_from_db()
    assert r.distance_m == second[r.id].distance_m and RideTrackPoint.objects.filter(ride=r).count() == 3


def test_duplicates_add_neither_points_nor_distance_and_untracked_rides_are_dropped() -> None:
    active, ended, unlocking = ride(), ride(RideState.ENDED), ride(RideState.UNLOCKING)
    t0 = timezone.now()
    fix = TrackFix(active.id, t0, 52.501, 13.40)
    ride_track_append_batch(fixes=[fix], origins={active.id: (52.500, 13.40)})
    again = ride_track_append_batch(
        fixes=[fix, TrackFix(ended.id, t0, 52.5, 13.4), TrackFix(unlocking.id, t0, 52.5, 13.4),
               TrackFix(active.id, t0 + timedelta(seconds=1), 91.0, 13.4)],  # off the globe: dropped
        origins={active.id: (52.501, 13.40), ended.id: (52.5, 13.4)},
    )
    assert set(again) == {active.id}
    assert (again[active.id].added, again[active.id].distance_m) == (0, round(haversine_m(13.4, 52.5, 13.4, 52.501)))
    assert RideTrackPoint.objects.count() == 1
    assert ride_track_append_batch(fixes=[]) == {}


def test_a_first_fix_without_a_previous_position_starts_the_distance_at_zero(django_assert_num_queries: Any) -> None:
    r = ride()
    with django_assert_num_queries(1):
        progress = ride_track_append_batch(fixes=[TrackFix(r.id, timezone.now(), 52.5, 13.4)])
    assert (progress[r.id].added, progress[r.id].distance_m) == (1, 0)
