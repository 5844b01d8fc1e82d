"""Demo data of rides (``manage.py demo_data``): Berlin's ride settings, and how to ride the demo vehicle.

Idempotent: the settings row is created only when missing; nothing else is written (rides are made by riding).
"""

from __future__ import annotations

from typing import TextIO

from accounts import demo as accounts_demo
from fleet import demo as fleet_demo
from fleet.models import City, Vehicle
from fleet.states import Status
from rides.models import CityRideSettings, Ride


def load(*, stdout: TextIO) -> None:
    city = City.objects.filter(slug=fleet_demo.CITY_SLUG).first()
    if city is None:
        stdout.write("rides: no demo city (load fleet first)\n")
        return
    _, created = CityRideSettings.objects.get_or_create(city=city)
    stdout.write(f"rides: ride settings for {city.name} {'created' if created else 'kept'}\n")
    summary(stdout=stdout)


def summary(*, stdout: TextIO) -> None:
    city = City.objects.filter(slug=fleet_demo.CITY_SLUG).first()
    if city is None:
        return
    vehicle = (Vehicle.objects.filter(city=city, status=Status.AVAILABLE, battery_pct__gte=30)
               .order_by("code").first())
    rides = Ride.objects.filter(rider__email=accounts_demo.RIDER_EMAIL).count()
    stdout.write(f"rides: {accounts_demo.RIDER_EMAIL} has {rides} ride(s); history: GET /api/v1/rides\n")
    if vehicle is not None:
        stdout.write(f"rides: start one: POST /api/v1/rides/start {{\"code\": \"{vehicle.code}\"}} "
                     "(a celery worker with VEHICLE_GATEWAY_SIM_MODE=ack acknowledges the unlock)\n")
