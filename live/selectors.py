"""Reads for the sockets: access gates and snapshots. Called from consumers through ``database_sync_to_async``."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts import selectors as accounts_selectors
from billing import fares
from billing.services import passes as billing_passes
from core.money import money
from fleet import selectors as fleet_selectors
from fleet.models import Vehicle
from live.state import RideLive
from rides import selectors as ride_selectors
from rides.models import Ride, RideState

FLEET_PERMISSION = "fleet.view_vehicle"
Bbox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


def _ts(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


def _ended(ride: Ride) -> dict[str, Any] | None:
    """The receipt summary of a closed ride (what ``ride.ended`` carries), None while it is open."""
    if ride.state == RideState.CANCELLED:
        return {"reason": ride.cancel_reason, "fare_total": None, "duration_s": 0, "distance_m": 0}
    if ride.state != RideState.ENDED:
        return None
    return {
        "reason": ride.end_reason, "ended_at": ride.ended_at.isoformat() if ride.ended_at else None,
        "duration_s": ride.duration_s, "distance_m": ride.distance_m,
        "fare_total": None if ride.fare_total is None else money(ride.fare_total, ride.currency),
        "receipt": ride.fare,
    }


def ride_live_get(*, rider: Any, ride_id: uuid.UUID) -> RideLive:
    """The rider's ride as the socket shows it; ``rides.errors.RideNotFound`` for anyone else's."""
    ride = ride_selectors.ride_get_for_rider(rider=rider, ride_id=ride_id)
    vehicle = ride.vehicle
    is_open = ride.state in (RideState.ACTIVE, RideState.PAUSED, RideState.LOCKING, RideState.UNLOCKING)
    now = timezone.now()
    reserved = 0
    if ride.reservation_id is not None and ride.reservation is not None:
        reserved = max(0, int((ride.created_at - ride.reservation.created_at).total_seconds()))
    return RideLive(
        ride_id=str(ride.id), state=ride.state, vehicle_code=vehicle.code, currency=ride.currency,
        created_at=float(ride.created_at.timestamp()), started_at=_ts(ride.started_at), paused_at=_ts(ride.paused_at),
        paused_seconds=ride.paused_seconds, reserved_seconds=reserved,
        tariff=fares.TariffSnapshot.from_json(ride.tariff) if is_open else None,
        benefits=(billing_passes.ride_benefits(rider=ride.rider, city=ride.city, at=ride.started_at or now)
                  if is_open else fares.NO_BENEFITS),
        # The daily cap counts what the rider already paid today; rides computes it the same way at the end.
        spent_today=ride_selectors.rider_spent_today(ride=ride, now=now) if is_open else Decimal(0),
        lat=vehicle.lat if is_open else ride.end_lat, lon=vehicle.lon if is_open else ride.end_lon,
        battery_pct=vehicle.battery_pct,
        distance_m=ride.distance_m if ride.distance_m is not None else ride_selectors.track_distance_m(ride_id=ride.id),
        at=vehicle.position_at.isoformat() if vehicle.position_at else None,
        ended=_ended(ride),
    )


def fleet_may_watch(*, user: Any, city_id: uuid.UUID) -> bool:
    """Staff holding the fleet read permission (every fleet role has it), for a city that exists and is one of
    theirs (docs/accounts.md "Cities")."""
    return bool(user.is_authenticated and user.has_perm(FLEET_PERMISSION)
                and fleet_selectors.staff_sees_city(user=user, city_id=city_id)
                and fleet_selectors.city_exists(city_id=city_id))


def fleet_may_still_watch(*, user_id: Any, city_id: uuid.UUID) -> bool:
    """``fleet_may_watch`` on the user as the database has them now (their roles and cities may have changed since
    the socket's handshake), read afresh: a user object caches its permissions and cities."""
    user = accounts_selectors.user_get(user_id=user_id)
    return user is not None and user.is_active and fleet_may_watch(user=user, city_id=city_id)


TASKS_PERMISSION = "fleet.view_opstask"


def task_cities_for(*, user: Any) -> list[uuid.UUID] | None:
    """The cities whose task events this staff member's task page follows (their cities, docs/accounts.md "Cities");
    None when they may not see tasks."""
    if not (user.is_authenticated and user.has_perm(TASKS_PERMISSION)):
        return None
    scope = fleet_selectors.staff_city_ids(user)
    return [city.id for city in fleet_selectors.cities_all() if scope is None or city.id in scope]


def vehicle_live_json(vehicle: Vehicle) -> dict[str, Any]:
    """One vehicle as fleet sockets show it (the shape telemetry's ``fleet_positions`` pushes)."""
    return {"id": str(vehicle.id), "code": vehicle.code, "lat": vehicle.lat, "lon": vehicle.lon,
            "status": vehicle.status, "battery_pct": vehicle.battery_pct,
            "at": vehicle.position_at.isoformat() if vehicle.position_at else None}


def fleet_snapshot(*, city_id: uuid.UUID, bbox: Bbox | None) -> list[dict[str, Any]]:
    """Every vehicle of the city (inside ``bbox`` if given) with its last known position, status and type code.

    Rows as tuples, not model instances: a 10,000-vehicle city's snapshot is what a map waits for."""
    fields = ("id", "code", "lat", "lon", "status", "battery_pct", "position_at", "vehicle_type__code")
    rows = fleet_selectors.vehicles_in_city(city_id=city_id, bbox=bbox).values_list(*fields)
    return [{"id": str(vid), "code": code, "lat": lat, "lon": lon, "status": status, "battery_pct": battery,
             "at": at.isoformat() if at else None, "type": type_code}
            for vid, code, lat, lon, status, battery, at, type_code in rows]


def fleet_vehicle_types(*, city_id: uuid.UUID) -> dict[str, str]:
    """Vehicle id -> type code of the city's vehicles (positions pushed by telemetry do not carry the type)."""
    rows = fleet_selectors.vehicles_in_city(city_id=city_id).values_list("id", "vehicle_type__code")
    return {str(vid): code for vid, code in rows}
