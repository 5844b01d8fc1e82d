"""``rides.services.ride_track_append_batch``: the one statement telemetry uses for every ride of a batch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fleet.geofence import haversine_m
from fleet.models import Vehicle
from fleet.states import Status
from rides.models import Ride, RideState, RideTrackPoint
from rides.services.track import TrackFix, ride_track_append_batch, ride_track_insert_late
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


def test_a_late_fix_goes_into_the_track_in_time_order_and_the_distance_counts_it() -> None:
    r = ride()
    t0 = timezone.now()
    Ride.objects.filter(id=r.id).update(started_at=t0 - timedelta(minutes=1))
    ride_track_append_batch(fixes=[TrackFix(r.id, t0, 52.500, 13.40), TrackFix(r.id, t0 + timedelta(seconds=2),
                                                                             52.500, 13.42)])
    # The fix of second 1 arrives late (an outage held it back): a detour north between the two.
    late = ride_track_insert_late(fixes=[TrackFix(r.id, t0 + timedelta(seconds=1), 52.51, 13.41),
                                         TrackFix(r.id, t0 - timedelta(hours=1), 52.0, 13.0)])  # before the ride
    straight = haversine_m(13.40, 52.500, 13.42, 52.500)
    detour = haversine_m(13.40, 52.500, 13.41, 52.51) + haversine_m(13.41, 52.51, 13.42, 52.500)
    expected = round(straight) + round(detour - straight)  # the straight leg was counted when it was appended
    assert (late[r.id].added, late[r.id].distance_m) == (1, expected)
    assert list(RideTrackPoint.objects.filter(ride=r).order_by("at").values_list("lat", flat=True)) == [
        52.500, 52.51, 52.500]
    again = ride_track_insert_late(fixes=[TrackFix(r.id, t0 + timedelta(seconds=1), 52.51, 13.41)])
    assert again == {}  # a duplicate adds nothing
    r.refresh_from_db()
    assert r.distance_m == expected


def test_a_late_reading_of_a_vehicle_on_a_ride_counts_for_its_track(db: Any) -> None:
    from telemetry import ingest, pipeline, status

    r = ride()
    Vehicle.objects.filter(id=r.vehicle_id).update(position_at=timezone.now() - timedelta(hours=1), lat=52.5,
                                                   lon=13.4)
    t = int(timezone.now().timestamp() * 1000)
    ingest.ingest(r.vehicle_id, [{"seq": 1, "ts": t - 3000, "lat": 52.500, "lon": 13.40},
                                 {"seq": 3, "ts": t - 1000, "lat": 52.500, "lon": 13.42}])
    pipeline.drain_until_empty()
    ingest.ingest(r.vehicle_id, [{"seq": 2, "ts": t - 2000, "lat": 52.51, "lon": 13.41}])  # held back, late
    pipeline.drain_until_empty()
    assert status.snapshot()["stats"]["late"] == 1
    assert list(RideTrackPoint.objects.filter(ride=r).order_by("at").values_list("lat", flat=True)) == [
        52.500, 52.51, 52.500]
    r.refresh_from_db()
    detour = haversine_m(13.40, 52.500, 13.41, 52.51) + haversine_m(13.41, 52.51, 13.42, 52.500)
    assert abs((r.distance_m or 0) - detour) <= 2  # the origin leg (vehicle's position before) rounds apart
