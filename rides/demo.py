"""Demo data of rides (``manage.py demo_data``): Berlin's ride settings, and a finished ride of the demo rider.

The ride is made by riding, through the same services the API uses: start, the vehicle acknowledges the unlock,
a track of position fixes, end (where the zones allow it), the lock acknowledgement; the fare is charged from the
demo wallet. It is backdated by a quarter of an hour so that it has a duration. Idempotent: the settings row is
created only when missing, and the ride only when the demo rider has no ended ride.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from typing import TextIO

from django.utils import timezone

from accounts import demo as accounts_demo
from accounts import selectors as account_selectors
from accounts.models import User
from core.errors import DomainError
from fleet import demo as fleet_demo
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import City, Vehicle
from rides import errors, services
from rides.models import CityRideSettings, Ride, RideState

RIDE_MINUTES = 14


def load(*, stdout: TextIO) -> None:
    city = fleet_selectors.city_get_by_slug(slug=fleet_demo.CITY_SLUG)
    if city is None:
        stdout.write("rides: no demo city (load fleet first)\n")
        return
    _, created = CityRideSettings.objects.get_or_create(city=city)
    stdout.write(f"rides: ride settings for {city.name} {'created' if created else 'kept'}\n")
    rider = account_selectors.user_get_by_email(email=accounts_demo.RIDER_EMAIL)
    if rider is not None and not Ride.objects.filter(rider=rider, state=RideState.ENDED).exists():
        ride = _finished_ride(rider, city)
        stdout.write(f"rides: a finished ride {ride.id} for {rider.email} ({ride.distance_m} m, "
                     f"{ride.fare_total} {ride.currency})\n" if ride else "rides: no vehicle could be ridden\n")
    summary(stdout=stdout)


def _vehicle_answers(command_id: uuid.UUID | None) -> None:
    """What telemetry does when the vehicle answers; the ride moves on at once (the load is one transaction)."""
    assert command_id is not None
    fleet_services.command_deliver(command_id=command_id)
    fleet_services.command_ack(command_id=command_id, ok=True)
    services.ride_command_closed(command_id=command_id)


def _finished_ride(rider: User, city: City) -> Ride | None:
    candidates = fleet_selectors.vehicles_available(city_id=city.id, min_battery_pct=30)
    for vehicle in candidates[:10]:
        try:
            ride = services.ride_start(rider=rider, code=vehicle.code)
        except DomainError:
            continue  # e.g. a no-ride zone or an age limit: try the next one
        return _ride_and_end(rider, vehicle, ride)
    return None


def _ride_and_end(rider: User, vehicle: Vehicle, ride: Ride) -> Ride:
    _vehicle_answers(ride.unlock_command_id)
    now = timezone.now()
    started = now - dt.timedelta(minutes=RIDE_MINUTES)
    Ride.objects.filter(id=ride.id).update(created_at=started - dt.timedelta(seconds=20), started_at=started)
    lat, lon = vehicle.lat or 52.52, vehicle.lon or 13.405
    for i in range(1, 29):  # a fix every 30 s along a gentle curve, about 1.5 km
        lat, lon = lat + 0.0004 * math.cos(i / 9), lon + 0.0006 * math.sin(i / 7 + 1)
        services.ride_track_append(vehicle_id=vehicle.id, at=started + dt.timedelta(seconds=30 * i), lat=lat, lon=lon)
    _park(vehicle, lat, lon, now)
    try:
        services.ride_end(ride_id=ride.id, rider=rider)
    except (errors.EndInNoParkingZone, errors.EndAwayFromParking, errors.EndNotAllowedHere,
            errors.EndOutsideOperatingArea) as exc:
        nearest = exc.details.get("nearest_allowed")
        if not nearest:
            return services.ride_end_now(ride_id=ride.id, reason="ops", note="demo: no place to park")
        _park(vehicle, nearest["lat"], nearest["lon"], now + dt.timedelta(seconds=1))
        services.ride_end(ride_id=ride.id, rider=rider)
    ride.refresh_from_db()
    _vehicle_answers(ride.lock_command_id)
    ride.refresh_from_db()
    return ride


def _park(vehicle: Vehicle, lat: float, lon: float, at: dt.datetime) -> None:
    fleet_services.vehicle_record_reading(vehicle_id=vehicle.id, at=at, location=fleet_services.Location(lat, lon),
                                          speed_kph=0.0)


def summary(*, stdout: TextIO) -> None:
    city = fleet_selectors.city_get_by_slug(slug=fleet_demo.CITY_SLUG)
    if city is None:
        return
    vehicle = fleet_selectors.vehicles_available(city_id=city.id, min_battery_pct=30).first()
    rides = Ride.objects.filter(rider__email=accounts_demo.RIDER_EMAIL).order_by("-created_at")
    stdout.write(f"rides: {accounts_demo.RIDER_EMAIL} has {rides.count()} ride(s); history: GET /api/v1/rides\n")
    last = rides.filter(state=RideState.ENDED).first()
    if last is not None:
        stdout.write(f"rides: receipt: GET /api/v1/rides/{last.id}, track: GET /api/v1/rides/{last.id}/track\n")
    if vehicle is not None:
        stdout.write(f"rides: start one: POST /api/v1/rides/start {{\"code\": \"{vehicle.code}\"}} "
                     "(a celery worker with VEHICLE_GATEWAY_SIM_MODE=ack acknowledges the unlock)\n")
