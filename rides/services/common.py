"""Helpers shared by the ride services: settings per city, row locks in the fixed order, geofence verdicts,
live pushes."""

from __future__ import annotations

import uuid
from datetime import datetime

from accounts.models import User
from core import cache as core_cache
from core import push as live_push
from fleet import services as fleet_services
from fleet.geofence import Verdict
from fleet.models import Vehicle
from fleet.selectors import zones as zone_selectors
from rides import errors
from rides.models import CityRideSettings, Ride, RideState

SETTINGS_CACHE = "rides.city_settings"


def city_settings(city_id: uuid.UUID) -> CityRideSettings:
    """The city's ride settings; an unsaved row with the defaults when the city has none.

    Cached (``core.cache``); saving or deleting a row bumps its version (``rides.signals``).
    """
    def load() -> CityRideSettings:
        found = CityRideSettings.objects.filter(city_id=city_id).first()
        return found if found is not None else CityRideSettings(city_id=city_id)

    settings: CityRideSettings = core_cache.cached(SETTINGS_CACHE, city_id, load)
    return settings


def city_settings_changed(city_id: uuid.UUID) -> None:
    core_cache.cached_bump(SETTINGS_CACHE, city_id)


def lock_ride(ride_id: uuid.UUID, vehicle_id: uuid.UUID | None = None, *, rider: User | None = None) -> tuple[Vehicle, Ride]:
    """Lock the ride's vehicle, then the ride: the one lock order of this app (vehicle, then ride/reservation).

    Caller must be inside ``transaction.atomic``. With ``rider`` the ride must be theirs (else ``RideNotFound``,
    before any lock). Pass ``vehicle_id`` when it is known (a ride never changes vehicle) to save a query. The
    ride comes with its vehicle type and city, and ``ride.vehicle`` is the locked vehicle.
    """
    if vehicle_id is None:
        rides = Ride.objects.filter(id=ride_id)
        if rider is not None:
            rides = rides.filter(rider_id=rider.pk)
        vehicle_id = rides.values_list("vehicle_id", flat=True).first()
        if vehicle_id is None:
            raise errors.RideNotFound()
    vehicle = fleet_services.lock_vehicle(vehicle_id)
    ride = Ride.objects.select_for_update(of=("self",)).select_related("vehicle_type", "city").filter(id=ride_id).first()
    if ride is None or ride.vehicle_id != vehicle.id or (rider is not None and ride.rider_id != rider.pk):
        raise errors.RideNotFound()
    ride.vehicle = vehicle
    return vehicle, ride


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def push_updated(ride: Ride) -> None:
    """``ride.updated`` to the rider's ride socket, after commit (``core.push``)."""
    live_push.to_ride(ride.id, "ride.updated", {
        "id": str(ride.id), "state": ride.state, "started_at": _iso(ride.started_at),
        "paused": ride.state == RideState.PAUSED, "paused_at": _iso(ride.paused_at),
        "paused_seconds": ride.paused_seconds, "pause_count": ride.pause_count,
        "end_requested_at": _iso(ride.end_requested_at), "ended_at": _iso(ride.ended_at),
        "cancel_reason": ride.cancel_reason,
    })


def push_command(ride: Ride, kind: str, outcome: str) -> None:
    """``ride.command``: how the vehicle answered an unlock/lock (acked, failed, timed_out)."""
    live_push.to_ride(ride.id, "ride.command", {"kind": kind, "outcome": outcome})


def require_state(ride: Ride, *allowed: str) -> None:
    if ride.state not in allowed:
        raise errors.RideStateConflict(state=ride.state, allowed=list(allowed))


def verdict_at(vehicle: Vehicle, type_code: str) -> Verdict:
    if vehicle.lat is None or vehicle.lon is None:
        raise errors.VehiclePositionUnknown()
    return zone_selectors.geofence_for_city(vehicle.city_id).evaluate(vehicle.lon, vehicle.lat, type_code)
