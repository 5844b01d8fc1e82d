"""Helpers shared by the ride services: settings per city, row locks in the fixed order, geofence verdicts."""

from __future__ import annotations

import uuid

from fleet import services as fleet_services
from fleet.geofence import Verdict
from fleet.models import Vehicle
from fleet.selectors import zones as zone_selectors
from rides import errors
from rides.models import CityRideSettings, Ride


def city_settings(city_id: uuid.UUID) -> CityRideSettings:
    """The city's ride settings; an unsaved row with the defaults when the city has none."""
    found = CityRideSettings.objects.filter(city_id=city_id).first()
    return found if found is not None else CityRideSettings(city_id=city_id)


def lock_ride(ride_id: uuid.UUID) -> tuple[Vehicle, Ride]:
    """Lock the ride's vehicle, then the ride: the one lock order of this app (vehicle, then ride/reservation).

    Caller must be inside ``transaction.atomic``.
    """
    vehicle_id = Ride.objects.filter(id=ride_id).values_list("vehicle_id", flat=True).first()
    if vehicle_id is None:
        raise errors.RideNotFound()
    vehicle = fleet_services.lock_vehicle(vehicle_id)
    return vehicle, Ride.objects.select_for_update().get(id=ride_id)


def require_state(ride: Ride, *allowed: str) -> None:
    if ride.state not in allowed:
        raise errors.RideStateConflict(state=ride.state, allowed=list(allowed))


def verdict_at(vehicle: Vehicle, type_code: str) -> Verdict:
    if vehicle.lat is None or vehicle.lon is None:
        raise errors.VehiclePositionUnknown()
    return zone_selectors.geofence_for_city(vehicle.city_id).evaluate(vehicle.lon, vehicle.lat, type_code)
