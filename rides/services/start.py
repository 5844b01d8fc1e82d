"""Starting a ride: every check with its own error code, then claim, billing hold and unlock, in three steps.

1. Checks without locks (rider, reservation, vehicle read, money, age, battery, zones, tariff): riders who may
   not ride never queue on a vehicle's lock and never leave an MDS trace.
2. ``_start_claim``, one short transaction: lock the vehicle (``fleet.services.vehicle_claim_for_ride``: the
   losers of a race wait here and get ``vehicle_unavailable``), re-check what can change under us (status,
   battery, position) on the locked row, create the ride in ``unlocking``, MDS ``trip_start``. Lock order:
   vehicle, then reservation/ride.
3. ``_start_finish``, outside any transaction: the billing hold (a payment provider call must not run while
   rows are locked, and a rollback must not erase its record), then the unlock command in a second short
   transaction that only proceeds if the ride is still ``unlocking``. A refused hold cancels the ride
   (MDS ``trip_cancel``, the vehicle is free again) and the rider gets the billing error.

A start that died between 2 and 3 (process crash) is finished by the rider's retry (same vehicle), or cancelled
by ``rides_sweep_commands`` after ``RIDES_UNLOCK_TTL_S``.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing import errors as billing_errors
from billing import fares
from billing import selectors as billing_selectors
from billing.services import rides as billing_rides
from core.errors import DomainError
from fleet import errors as fleet_errors
from fleet import services as fleet_services
from fleet.models import ActorKind, CommandKind, Vehicle
from fleet.selectors import vehicles as vehicle_selectors
from fleet.states import Status
from rides import errors
from rides.models import OPEN_STATES, Reservation, Ride, RideState
from rides.services.common import city_settings, lock_ride, push_updated, verdict_at
from rides.services.lifecycle import hold_release, ride_cancel_unlocking

logger = logging.getLogger(__name__)


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_rider(rider: User) -> None:
    if rider.status != User.Status.ACTIVE or not rider.is_active:
        raise errors.RiderNotActive(status=rider.status)
    if Ride.objects.filter(rider=rider, state__in=OPEN_STATES).exists():
        raise errors.RideAlreadyOpen()


def check_money(rider: User, vehicle: Vehicle) -> billing_selectors.RiderMoney:
    """Billing's gate (no debt; a card or the minimum wallet balance); returns what it read for the hold."""
    money = billing_selectors.rider_money(rider, vehicle.city.currency)
    if money.refusal == "outstanding_debt":
        raise billing_errors.OutstandingDebt()
    if money.refusal is not None:
        raise billing_errors.NoPaymentMethod()
    return money


def check_vehicle(rider: User, vehicle: Vehicle) -> None:
    """Age for the type, battery above the city's minimum, a start allowed where the vehicle stands.

    No queries once the city's settings and zones are cached: it runs again on the locked row.
    """
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


def _check_rentable(vehicle: Vehicle, reservation: Reservation | None) -> None:
    """Fail fast before any lock; ``vehicle_claim_for_ride`` re-checks under the lock."""
    reserved_for_us = reservation is not None and vehicle.status == Status.RESERVED and vehicle.trip_id == reservation.id
    if vehicle.status != Status.AVAILABLE and not reserved_for_us:
        raise errors.VehicleUnavailable(status=vehicle.status)


def _tariff_for(vehicle: Vehicle) -> fares.TariffSnapshot:
    try:
        return billing_selectors.tariff_for_ride(city_id=vehicle.city_id, vehicle_type_id=vehicle.vehicle_type_id)
    except billing_errors.TariffNotFound:
        raise errors.TariffMissing() from None


def _vehicle_for(code: str | None, reservation: Reservation | None) -> Vehicle:
    """The vehicle read without a lock, with its type and city."""
    try:
        if reservation is not None:
            return vehicle_selectors.vehicle_get(vehicle_id=reservation.vehicle_id)
        return vehicle_selectors.vehicle_get_by_code(code=code or "")
    except fleet_errors.VehicleNotFound:
        raise errors.VehicleNotFound() from None


def _reservation_for(rider: User, code: str | None, reservation_id: uuid.UUID | None) -> Reservation | None:
    """The rider's active reservation that this start uses (by id, or because the code is the reserved vehicle)."""
    active = Reservation.objects.filter(rider=rider, state=Reservation.State.ACTIVE).select_related("vehicle").first()
    if reservation_id is not None:
        if active is None or active.id != reservation_id:
            raise errors.ReservationNotFound()
        return active
    if active is not None and active.vehicle.code != (code or "").strip().upper():
        raise errors.ReservationAlreadyActive(reservation_id=str(active.id))
    return active


def ride_start(*, rider: User, code: str | None = None, reservation_id: uuid.UUID | None = None) -> Ride:
    """Start a ride in ``unlocking`` by vehicle code or from the rider's reservation; the unlock is queued.

    Call outside a transaction (the billing hold talks to the payment provider).
    """
    if rider.status != User.Status.ACTIVE or not rider.is_active:
        raise errors.RiderNotActive(status=rider.status)
    open_ride = Ride.objects.filter(rider=rider, state__in=OPEN_STATES).first()
    if open_ride is not None:
        return _resume(rider, open_ride, code, reservation_id)
    reservation = _reservation_for(rider, code, reservation_id)
    vehicle = _vehicle_for(code, reservation)
    _check_rentable(vehicle, reservation)
    money = check_money(rider, vehicle)
    check_vehicle(rider, vehicle)
    snapshot = _tariff_for(vehicle)
    ride = _start_claim(rider, vehicle, reservation, snapshot)
    return _start_finish(rider, ride, vehicle, money=money)


def _resume(rider: User, ride: Ride, code: str | None, reservation_id: uuid.UUID | None) -> Ride:
    """The rider has an open ride: a retry of a start that stopped after its claim (same vehicle, or same
    reservation) finishes it; anything else is ``ride_already_open``."""
    if ride.state == RideState.UNLOCKING and ride.unlock_command_id is None:
        vehicle = vehicle_selectors.vehicle_get(vehicle_id=ride.vehicle_id)
        if (ride.reservation_id == reservation_id) if reservation_id is not None else (
                vehicle.code == (code or "").strip().upper()):
            return _start_finish(rider, ride, vehicle)
    raise errors.RideAlreadyOpen()


def _start_claim(rider: User, vehicle: Vehicle, reservation: Reservation | None,
                 snapshot: fares.TariffSnapshot) -> Ride:
    try:
        with transaction.atomic():
            return _claim_locked(rider, vehicle, reservation, snapshot)
    except IntegrityError as exc:  # the partial unique indexes: a concurrent start by this rider or on this vehicle
        if "ride_one_open_per_rider" in str(exc):
            raise errors.RideAlreadyOpen() from None
        raise errors.VehicleUnavailable() from None


def _claim_locked(rider: User, vehicle: Vehicle, reservation: Reservation | None,
                  snapshot: fares.TariffSnapshot) -> Ride:
    try:
        locked = fleet_services.vehicle_claim_for_ride(vehicle_id=vehicle.id,
                                                       reservation_id=reservation.id if reservation else None)
    except fleet_errors.VehicleUnavailable as exc:
        raise errors.VehicleUnavailable(**exc.details) from None
    if (locked.vehicle_type_id, locked.city_id) != (vehicle.vehicle_type_id, vehicle.city_id):
        raise errors.VehicleUnavailable()  # re-typed or moved to another city since the read: let the rider retry
    locked.vehicle_type, locked.city = vehicle.vehicle_type, vehicle.city
    check_vehicle(rider, locked)  # battery and position as they are now
    now = timezone.now()
    if reservation is not None:
        converted = Reservation.objects.filter(id=reservation.id, state=Reservation.State.ACTIVE).update(
            state=Reservation.State.CONVERTED, closed_at=now)
        if not converted:
            raise errors.ReservationStateConflict()
    ride = Ride.objects.create(
        rider=rider, vehicle=locked, vehicle_type_id=locked.vehicle_type_id, city_id=locked.city_id,
        reservation=reservation, tariff=snapshot.to_json(), currency=snapshot.currency,
        start_lat=locked.lat, start_lon=locked.lon,
    )
    location = (fleet_services.Location(lat=locked.lat, lon=locked.lon)
                if locked.lat is not None and locked.lon is not None else None)
    fleet_services.vehicle_transition(vehicle_id=locked.id, event_types=["trip_start"], trip_id=ride.id,
                                      actor=rider, actor_kind=ActorKind.RIDER, at=now, location=location,
                                      locked=locked)
    push_updated(ride)
    return ride


def _start_finish(rider: User, ride: Ride, vehicle: Vehicle,
                  money: billing_selectors.RiderMoney | None = None) -> Ride:
    """Hold, then unlock. Outside any transaction; idempotent per ride (a retry places no second hold).

    ``money``: what the start's gate read, given only by the request that created the ride (so no hold can
    exist yet); a retry (``_resume``) passes none and billing looks for the hold first.
    """
    try:
        try:
            billing_rides.ride_hold_place(rider=rider, ride_id=ride.id, city_id=ride.city_id,
                                          amount=city_settings(ride.city_id).hold_amount, currency=ride.currency,
                                          new_ride=money is not None, money=money)
        except IntegrityError:  # billing's one hold per ride: a concurrent retry of this start holds it
            raise errors.RideStartInProgress(ride_id=str(ride.id)) from None
        with transaction.atomic():
            command = fleet_services.command_queue(vehicle_id=ride.vehicle_id, kind=CommandKind.UNLOCK, actor=rider,
                                                   idempotency_key=f"ride:{ride.id}:unlock:0",
                                                   new_key=money is not None)
            # Lock order: command_queue locked the vehicle; this UPDATE locks the ride. Cancelled meanwhile
            # (ops, the sweep): roll the command back so it is never sent.
            if not Ride.objects.filter(id=ride.id, state=RideState.UNLOCKING).update(unlock_command_id=command.id):
                raise errors.RideStateConflict(state=Ride.objects.values_list("state", flat=True).get(id=ride.id),
                                               allowed=[RideState.UNLOCKING])
    except errors.RideStartInProgress:  # not a refusal: the concurrent request finishes (or undoes) the start
        raise
    except DomainError as exc:  # refused: undo the claim. Anything else (a crash) is left to the retry or the sweep
        _start_abort(ride, reason=exc.code)
        raise
    ride.unlock_command_id = command.id
    ride.vehicle = vehicle
    return ride


def _start_abort(ride: Ride, *, reason: str) -> None:
    """The hold was refused (or the unlock could not be queued): cancel the ride, free the vehicle, void any hold."""
    try:
        with transaction.atomic():
            _, locked = lock_ride(ride.id, ride.vehicle_id)
            if locked.state == RideState.UNLOCKING and locked.unlock_command_id is None:
                ride_cancel_unlocking(ride=locked, reason=reason[:64], actor_kind=ActorKind.SYSTEM)
    except Exception:  # noqa: BLE001 - the rider gets the original error; the sweep cancels the ride after the TTL
        logger.exception("could not cancel ride %s after a failed start", ride.id)
    hold_release(ride.id)
