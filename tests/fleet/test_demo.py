"""fleet/demo.py: loads Berlin, its zones and 200 vehicles; a second run changes nothing."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from fleet import demo, selectors
from fleet.models import City, Vehicle, VehicleEvent, Zone


@pytest.mark.django_db
def test_demo_loads_once_and_is_idempotent() -> None:
    out = io.StringIO()
    demo.load(stdout=out)
    city = City.objects.get(slug="berlin")
    assert Zone.objects.filter(city=city).count() == 6
    assert Vehicle.objects.filter(city=city).count() == 200
    assert Vehicle.objects.filter(status="available").count() > 150
    assert VehicleEvent.objects.count() >= 200
    assert demo.DEMO_SECRET in out.getvalue()
    identity = selectors.vehicle_authenticate("BER001", demo.DEMO_SECRET)
    assert identity is not None and identity.city_id == city.id
    assert selectors.vehicles_nearby(lat=52.52, lon=13.40, radius_m=1000)
    alex = selectors.geofence_for_city(city.id).evaluate(13.412, 52.521, "fw-scooter", timezone.now())
    assert alex.ride_end_allowed is False
    events = VehicleEvent.objects.count()
    demo.load(stdout=io.StringIO())
    assert (Vehicle.objects.count(), Zone.objects.count(), VehicleEvent.objects.count()) == (200, 6, events)
