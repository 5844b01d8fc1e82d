"""Reservations: hold a vehicle for the city's hold time, cancel, expire (beat), cool-down after lapses.

The fee (free / flat / per minute, as the tariff says) is computed by billing's fare engine. When the ride starts
from the reservation it is a line of the ride's fare; when the reservation is cancelled or lapses it is charged
on its own through ``billing.services.fees.reservation_fee_charge`` after the close commits (once per
reservation; ``reservations_expire`` retries a charge that failed).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import User
from billing import errors as billing_errors
from billing import fares
from billing import selectors as billing_selectors
from billing.services import fees as billing_fees
from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import ActorKind
from rides import errors
from rides.models import Reservation, Ride
from rides.services.common import city_settings
from rides.services.start import check_money, check_rider, check_vehicle

logger = logging.getLogger(__name__)


def _check_cooldown(rider: User, city_id: uuid.UUID, now: datetime) -> None:
    rules = city_settings(city_id)
    window = now - timedelta(hours=rules.reservation_lapse_window_hours)
    lapses: list[datetime] = list(Reservation.objects.filter(rider=rider, city_id=city_id, state=Reservation.State.EXPIRED,
                                             closed_at__gte=window).order_by("-closed_at")
                  .values_list("closed_at", flat=True)[: rules.reservation_lapse_limit])  # type: ignore[arg-type]
    if rules.reservation_lapse_limit and len(lapses) >= rules.reservation_lapse_limit:
        until = lapses[0] + timedelta(minutes=rules.reservation_cooldown_minutes)
        if until > now:
            raise errors.ReservationCooldown(until=until.isoformat(), retry_after=int((until - now).total_seconds()))


def reservation_create(*, rider: User, code: str) -> Reservation:
    """Reserve the vehicle with this code for the city's hold time (MDS reservation_start)."""
    check_rider(rider)
    if Reservation.objects.filter(rider=rider, state=Reservation.State.ACTIVE).exists():
        raise errors.ReservationAlreadyActive()
    try:
        with transaction.atomic():
            return _reserve_locked(rider, code)
    except IntegrityError:
        raise errors.ReservationAlreadyActive() from None


def _reserve_locked(rider: User, code: str) -> Reservation:
    try:
        claimed = fleet_services.vehicle_claim_for_ride(code=code)
    except fleet_errors.VehicleUnavailable as exc:
        raise errors.VehicleUnavailable(**exc.details) from None
    vehicle = fleet_selectors.vehicle_get(vehicle_id=claimed.id)
    now = timezone.now()
    _check_cooldown(rider, vehicle.city_id, now)
    check_money(rider, vehicle)
    check_vehicle(rider, vehicle)
    hold = timedelta(minutes=city_settings(vehicle.city_id).reservation_hold_minutes)
    reservation = Reservation.objects.create(rider=rider, vehicle=vehicle, city_id=vehicle.city_id,
                                             expires_at=now + hold, currency=vehicle.city.currency)
    fleet_services.reservation_start(vehicle_id=vehicle.id, reservation_id=reservation.id, actor=rider)
    return reservation


def _fee(reservation: Reservation, at: datetime) -> None:
    try:
        snapshot = billing_selectors.tariff_for_ride(city_id=reservation.city_id,
                                                     vehicle_type_id=reservation.vehicle.vehicle_type_id)
    except billing_errors.TariffNotFound:
        return
    seconds = max(0, int((at - reservation.created_at).total_seconds()))
    reservation.fee = fares.reservation_fee(snapshot, seconds)


def _close(reservation_id: uuid.UUID, state: str, actor_kind: str, rider: User | None = None) -> Reservation:
    vehicle_id = Reservation.objects.filter(id=reservation_id).values_list("vehicle_id", flat=True).first()
    if vehicle_id is None:
        raise errors.ReservationNotFound()
    fleet_services.lock_vehicle(vehicle_id)  # vehicle first, then the reservation
    reservation = Reservation.objects.select_for_update(of=("self",)).select_related("vehicle", "rider", "city") \
        .get(id=reservation_id)
    if reservation.state != Reservation.State.ACTIVE:
        raise errors.ReservationStateConflict(state=reservation.state)
    now = timezone.now()
    _fee(reservation, min(now, reservation.expires_at))
    reservation.state, reservation.closed_at = state, now
    reservation.save(update_fields=["state", "closed_at", "fee"])
    fleet_services.reservation_cancel(vehicle_id=vehicle_id, reservation_id=reservation.id, actor=rider,
                                      actor_kind=actor_kind)
    return reservation


def reservation_cancel(*, rider: User, reservation_id: uuid.UUID) -> Reservation:
    """Cancel the rider's active reservation (MDS reservation_cancel); its fee, if any, is charged."""
    if not Reservation.objects.filter(id=reservation_id, rider=rider).exists():
        raise errors.ReservationNotFound()
    with transaction.atomic():
        reservation = _close(reservation_id, Reservation.State.CANCELLED, ActorKind.RIDER, rider)
    _reservation_fee_charge(reservation=reservation)
    return reservation


def _reservation_fee_charge(*, reservation: Reservation) -> bool:
    """Charge the fee of a cancelled/lapsed reservation through billing (idempotent); outside a transaction.

    Returns whether it is booked; a failure is logged and retried by ``reservations_expire``.
    """
    if reservation.fee <= 0 or reservation.fee_charged_at is not None:
        return reservation.fee_charged_at is not None
    try:
        vat_rate = billing_selectors.tariff_for_ride(city_id=reservation.city_id,
                                                     vehicle_type_id=reservation.vehicle.vehicle_type_id).vat_rate
        billing_fees.reservation_fee_charge(user=reservation.rider, reservation_id=reservation.id,
                                            amount=reservation.fee, currency=reservation.currency,
                                            vat_rate=vat_rate, city=reservation.city)
    except Exception:  # noqa: BLE001 - the reservation is closed either way; the beat task retries the charge
        logger.exception("fee of reservation %s not charged; will retry", reservation.id)
        return False
    reservation.fee_charged_at = timezone.now()
    Reservation.objects.filter(id=reservation.id).update(fee_charged_at=reservation.fee_charged_at)
    return True


def reservations_expire(*, now: datetime | None = None) -> int:
    """Beat: expire reservations past their hold time and free the vehicles, charge their fee and tell the
    rider; retry fees that failed in the last two days. Safe to run concurrently."""
    now = now or timezone.now()
    count = 0
    for reservation_id in Reservation.objects.filter(state=Reservation.State.ACTIVE, expires_at__lte=now) \
            .values_list("id", flat=True)[:500]:
        try:
            with transaction.atomic():
                reservation = _close(reservation_id, Reservation.State.EXPIRED, ActorKind.SYSTEM)
                _notify_expired(reservation)
            count += 1
        except errors.ReservationStateConflict:
            continue  # converted or cancelled meanwhile
        _reservation_fee_charge(reservation=reservation)
    unpaid = Reservation.objects.filter(
        state__in=[Reservation.State.CANCELLED, Reservation.State.EXPIRED], fee__gt=0, fee_charged_at__isnull=True,
        closed_at__gte=now - timedelta(days=2), closed_at__lt=now - timedelta(minutes=1),
    ).select_related("rider", "city", "vehicle")[:200]
    for reservation in unpaid:
        _reservation_fee_charge(reservation=reservation)
    return count


def _notify_expired(reservation: Reservation) -> None:
    """Texts in the rider's language (``notify`` renders them)."""
    if reservation.fee > 0:
        body = format_lazy(_("Vehicle {code} is free again. A reservation fee of {amount} {currency} applies."),
                           code=reservation.vehicle.code, amount=reservation.fee, currency=reservation.currency)
    else:
        body = format_lazy(_("Vehicle {code} is free again."), code=reservation.vehicle.code)
    account_services.notify(
        user_id=reservation.rider_id, kind="reservation_expired", title=_("Your reservation expired"),
        body=body,
        data={"reservation_id": str(reservation.id), "vehicle_code": reservation.vehicle.code,
              "fee": {"amount": str(reservation.fee), "currency": reservation.currency}},
    )


__all__ = ["Ride", "reservation_cancel", "reservation_create", "reservations_expire"]
