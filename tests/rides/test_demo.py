"""rides/demo.py: after accounts, fleet and billing, the demo rider has a finished, charged ride with a track."""

from __future__ import annotations

import io

import pytest

from accounts import demo as accounts_demo
from billing import demo as billing_demo
from billing.models import RideBilling
from fleet import demo as fleet_demo
from fleet.models import Vehicle
from fleet.states import Status
from rides import demo, selectors
from rides.models import CityRideSettings, Ride, RideState

pytestmark = pytest.mark.django_db


def test_demo_leaves_one_finished_ride_with_receipt_and_track_and_is_idempotent(api):
    out = io.StringIO()
    for module in (accounts_demo, fleet_demo, billing_demo, demo):
        module.load(stdout=out)
    demo.load(stdout=out)
    ride = Ride.objects.get(rider__email=accounts_demo.RIDER_EMAIL)
    assert ride.state == RideState.ENDED and ride.end_reason == "rider"
    assert ride.duration_s is not None and ride.duration_s >= (demo.RIDE_MINUTES - 1) * 60
    assert ride.distance_m is not None and ride.distance_m > 500
    assert ride.fare_total is not None and ride.fare_total > 0 and ride.fare and ride.fare["lines"]
    assert RideBilling.objects.get(ride_id=ride.id).status == RideBilling.Status.CHARGED
    track = selectors.track_geojson(ride_id=ride.id)
    assert track is not None and len(track["coordinates"]) >= 2
    assert Vehicle.objects.get(id=ride.vehicle_id).status == Status.AVAILABLE
    assert CityRideSettings.objects.count() == 1
    assert f"GET /api/v1/rides/{ride.id}" in out.getvalue()
    detail = api.as_(ride.rider).get(f"/api/v1/rides/{ride.id}").json()
    assert detail["receipt"]["total"]
    assert api.get(f"/api/v1/rides/{ride.id}/track").json()["track"]["type"] == "LineString"
