"""Starting a ride: every check with its own error code, then tariff, MDS trip_start, billing hold, unlock.

Lock order: the vehicle row first (``fleet.services.vehicle_claim_for_ride``), then the reservation/ride rows.
Rider checks that need no lock run first, so riders who may not ride never queue on a vehicle's lock; the
billing hold is placed while the vehicle is held, so the losers of a race never touch money.
"""

from __future__ import annotations

import uuid
from datetime import date
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing import errors as billing_errors
from billing import selectors as billing_selectors
from billing import selectors_tariffs
from billing.services import rides as billing_rides
from fleet import errors as fleet_errors
from fleet import services as fleet_services
from fleet.models import Vehicle
from rides import errors
from rides.models import OPEN_STATES, Reservation, Ride
from rides.services.common import city_settings, verdict_at


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_rider(rider: User) -> None:
    if rider.status != User.Status.ACTIVE or not rider.is_active:
        raise errors.RiderNotActive(status=rider.status)
    if Ride.objects.filter(rider=rider, state__in=OPEN_STATES).exists():
        raise errors.RideAlreadyOpen()


def check_money(rider: User, vehicle: Vehicle) -> None:
    ok, code = billing_selectors.rider_can_start_ride(rider, vehicle.city)
    if code == "outstanding_debt":
        raise billing_errors.OutstandingDebt()
    if not ok:
        raise billing_errors.NoPaymentMethod()


def check_vehicle(rider: User, vehicle: Vehicle) -> None:
    """Age for the type, battery above the city's minimum, a start allowed where the vehicle stands."""
    minimum_age = vehicle.vehicle_type.min_rider_age
    if minimum_age:
        if rider.date_of_birth is None:
            raise errors.RiderBirthDateMissing(min_rider_age=minimum_age)
        today = timezone.now().astimezone(ZoneInfo(vehicle.city.timezone)).date()
        if _age(rider.date_of_birth, today) < minimum_age:
            raise errors.RiderTooYoung(min_rider_age=minimum_age)
    minimum_battery = city_settings(vehicle.city_id).min_battery_pct
    if vehicle.battery_pct is None or vehicle.battery_pct < minimum_battery:
        raise errors.BatteryTooLow(battery_pct=vehicle.battery_pct, min_battery_pct=minimum_battery)
    verdict = verdict_at(vehicle, vehicle.vehicle_type.code)
    if not verdict.ride_start_allowed:
        raise errors.StartNotAllowedHere(zone_id=verdict.zone_id)


def _claim(code: str | None, reservation: Reservation | None) -> Vehicle:
    try:
        if reservation is not None:
            vehicle = fleet_services.vehicle_claim_for_ride(vehicle_id=reservation.vehicle_id,
                                                            reservation_id=reservation.id)
        else:
            vehicle = fleet_services.vehicle_claim_for_ride(code=code)
    except fleet_errors.VehicleUnavailable as exc:
        raise errors.VehicleUnavailable(**exc.details) from None
    return Vehicle.objects.select_related("vehicle_type", "city").get(id=vehicle.id)


def _reservation_for(rider: User, code: str | None, reservation_id: uuid.UUID | None) -> Reservation | None:
    """The rider's active reservation that this start uses (by id, or because the code is the reserved vehicle)."""
    active = Reservation.objects.filter(rider=rider, state=Reservation.State.ACTIVE).select_related("vehicle").first()
    if reservation_id is not None:
        if active is None or active.id != reservation_id:
            raise errors.ReservationNotFound()
        return active
    if active is not None and active.vehicle.code != (code or "").upper():
        raise errors.ReservationAlreadyActive(reservation_id=str(active.id))
    return active


def ride_start(*, rider: User, code: str | None = None, reservation_id: uuid.UUID | None = None) -> Ride:
    """Start a ride in ``unlocking`` by vehicle code or from the rider's reservation; the unlock is queued."""
    check_rider(rider)
    reservation = _reservation_for(rider, code, reservation_id)
    try:
        with transaction.atomic():
            return _start_locked(rider, code, reservation)
    except IntegrityError as exc:  # the partial unique indexes: a concurrent start by this rider or on this vehicle
        if "ride_one_open_per_rider" in str(exc):
            raise errors.RideAlreadyOpen() from None
        raise errors.VehicleUnavailable() from None


def _start_locked(rider: User, code: str | None, reservation: Reservation | None) -> Ride:
    vehicle = _claim(code, reservation)
    if reservation is not None:
        reservation = Reservation.objects.select_for_update().get(id=reservation.id)
        if reservation.state != Reservation.State.ACTIVE:
            raise errors.ReservationStateConflict(state=reservation.state)
    check_money(rider, vehicle)
    check_vehicle(rider, vehicle)
    try:
        snapshot = selectors_tariffs.tariff_for_ride(city_id=vehicle.city_id, vehicle_type_id=vehicle.vehicle_type_id)
    except billing_errors.TariffNotFound:
        raise errors.TariffMissing() from None
    ride = Ride.objects.create(
        rider=rider, vehicle=vehicle, vehicle_type_id=vehicle.vehicle_type_id, city_id=vehicle.city_id,
        reservation=reservation, tariff=snapshot.to_json(), currency=snapshot.currency,
        start_lat=vehicle.lat, start_lon=vehicle.lon,
    )
    return _start_side_effects(rider, vehicle, ride, reservation)


def _start_side_effects(rider: User, vehicle: Vehicle, ride: Ride, reservation: Reservation | None) -> Ride:
    if reservation is not None:
        Reservation.objects.filter(id=reservation.id).update(state=Reservation.State.CONVERTED,
                                                               closed_at=timezone.now())
    location = (fleet_services.Location(lat=vehicle.lat, lon=vehicle.lon)
                if vehicle.lat is not None and vehicle.lon is not None else None)
    fleet_services.trip_start(vehicle_id=vehicle.id, trip_id=ride.id, actor=rider, location=location,
                              reservation_id=reservation.id if reservation else None)
    amount = city_settings(vehicle.city_id).hold_amount
    billing_rides.ride_hold_place(rider=rider, ride_id=ride.id, amount=amount, currency=ride.currency)
    command = fleet_services.command_queue(vehicle_id=vehicle.id, kind="unlock", actor=rider,
                                           idempotency_key=f"ride:{ride.id}:unlock:0")
    ride.unlock_command_id = command.id
    ride.save(update_fields=["unlock_command_id"])
    return ride
