"""Ending a ride: zone rules and the parking photo, the lock command, then fare, MDS trip_end and the charge."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import fares
from billing import selectors as billing_selectors
from billing.services import passes as billing_passes
from billing.services import rides as billing_rides
from core import audit, uploads
from core import push as live_push
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.geofence import ZoneKind
from fleet.models import ActorKind, CommandState, Vehicle
from fleet.selectors import zones as zone_selectors
from rides import errors
from rides.models import Ride, RideState
from rides.selectors import rider_spent_today, track_distance_m
from rides.services.common import city_settings, lock_ride, push_updated, require_state
from rides.services.lifecycle import END, close_pause, hold_release, queue_command, ride_cancel_unlocking

logger = logging.getLogger(__name__)


def _check_end_allowed(vehicle: Vehicle, type_code: str) -> None:
    """Refuse an end where the zone rules forbid it, with the nearest allowed place in the details."""
    if vehicle.lat is None or vehicle.lon is None:
        raise errors.VehiclePositionUnknown()
    zones = zone_selectors.geofence_for_city(vehicle.city_id)
    verdict = zones.evaluate(vehicle.lon, vehicle.lat, type_code)
    if verdict.ride_end_allowed:
        return
    nearest = zones.nearest_allowed_end(vehicle.lon, vehicle.lat, type_code)
    details: dict[str, Any] = {"zone_id": verdict.zone_id, "nearest_allowed": None if nearest is None else
               {"lat": round(nearest[1], 7), "lon": round(nearest[0], 7), "distance_m": round(nearest[2], 1)}}
    kinds = {z.kind for z in zones.zones_containing(vehicle.lon, vehicle.lat)}
    if ZoneKind.OPERATING_AREA not in kinds and verdict.zone_id is None:
        raise errors.EndOutsideOperatingArea(None, **details)
    if verdict.station_parking:
        raise errors.EndAwayFromParking(None, **details)
    if kinds & {ZoneKind.NO_PARKING, ZoneKind.NO_RIDE}:
        raise errors.EndInNoParkingZone(None, **details)
    raise errors.EndNotAllowedHere(None, **details)


def ride_end(*, ride_id: uuid.UUID, rider: User | None = None, photo: UploadedFile | None = None) -> Ride:
    """Request the end: checked against the zones, the lock is queued and the ride is ``locking`` until the ack.

    With ``rider`` the ride must be theirs (``ride_not_found`` otherwise). The photo must be an image; it is
    stored re-encoded, without metadata, under a random name (core.uploads).

    A ride already asked to end (``locking``) or ended is returned as it is, as a retry of the request would be
    answered: a double tap is no conflict (its photo, if any, is not stored). Checked under the locks, so of two
    simultaneous requests exactly one queues the lock.
    """
    cleaned = uploads.image_clean(photo) if photo is not None else None  # before the row locks: CPU-bound
    with transaction.atomic():
        vehicle, ride = lock_ride(ride_id, rider=rider)
        if ride.state in (RideState.LOCKING, RideState.ENDED):
            return ride
        require_state(ride, RideState.ACTIVE, RideState.PAUSED)
        _check_end_allowed(vehicle, ride.vehicle_type.code)
        if photo is None and city_settings(ride.city_id).parking_photo_required:
            raise errors.ParkingPhotoRequired()
        now = timezone.now()
        close_pause(ride, now)
        ride.lock_command_id = queue_command(ride, END, rider, now)
        ride.state, ride.end_requested_at, ride.end_reason = RideState.LOCKING, now, "rider"
        if cleaned is not None:
            ride.parking_photo.save(str(cleaned.name), cleaned, save=False)
        ride.save(update_fields=["paused_at", "paused_seconds", "lock_command_id", "state", "end_requested_at",
                                 "end_reason", "parking_photo"])
        push_updated(ride)
        return ride


def ride_fare(*, ride: Ride, at: datetime) -> fares.Fare:
    started = ride.started_at or ride.created_at
    duration = max(0, int((at - started).total_seconds()))
    reserved = 0
    if ride.reservation is not None:
        reserved = max(0, int((ride.created_at - ride.reservation.created_at).total_seconds()))
    usage = fares.RideUsage(
        riding_seconds=max(0, duration - ride.paused_seconds), paused_seconds=min(ride.paused_seconds, duration),
        reserved_seconds=reserved, distance_m=ride.distance_m or 0, spent_today=rider_spent_today(ride=ride, now=at),
    )
    benefits = billing_passes.ride_benefits(rider=ride.rider, city=ride.city, at=started)
    return fares.compute_fare(fares.TariffSnapshot.from_json(ride.tariff), usage, benefits)


def finish_locked(*, ride: Ride, at: datetime, reason: str = "", actor: User | None = None, secured: bool = True) -> Ride:
    """The ride ends now: duration, distance, fare, MDS trip_end. Caller holds the vehicle and ride locks.

    ``secured=False``: the vehicle has not confirmed it is locked; it is held out of service until it does, with
    a fresh lock and an ops alert and task (``fleet.services.trip_end_unsecured``)."""
    close_pause(ride, at)
    ride.distance_m = track_distance_m(ride_id=ride.id)
    ride.duration_s = max(0, int((at - (ride.started_at or ride.created_at)).total_seconds()))
    fare = ride_fare(ride=ride, at=at)
    ride.fare, ride.fare_total = fare.to_json(), fare.total
    ride.state, ride.ended_at = RideState.ENDED, at
    ride.end_reason = reason or ride.end_reason or "rider"
    vehicle = ride.vehicle  # locked by lock_ride
    ride.end_lat, ride.end_lon = vehicle.lat, vehicle.lon
    ride.ended_by = actor
    location = (fleet_services.Location(lat=vehicle.lat, lon=vehicle.lon)
                if vehicle.lat is not None and vehicle.lon is not None else None)
    if secured:
        fleet_services.trip_end(vehicle_id=ride.vehicle_id, trip_id=ride.id, location=location,
                                battery_pct=vehicle.battery_pct, locked=vehicle)
    else:  # its own key: the rider's lock (ride:<id>:lock:<n>) went unanswered, reusing it would send nothing
        fleet_services.trip_end_unsecured(
            vehicle_id=ride.vehicle_id, trip_id=ride.id, lock_key=f"ride:{ride.id}:force-lock", actor=actor,
            actor_kind=ActorKind.OPS if actor is not None else ActorKind.SYSTEM, location=location,
            battery_pct=vehicle.battery_pct, locked=vehicle)
    ride.save()
    push_updated(ride)
    live_push.to_ride(ride.id, "ride.ended", {
        "total": str(fare.total), "currency": ride.currency, "duration_s": ride.duration_s,
        "distance_m": ride.distance_m, "end_reason": ride.end_reason,
    })
    return ride


def _confirmed_locked(ride: Ride, vehicle: Vehicle) -> bool:
    """A paused ride whose lock the vehicle acknowledged, and no report since that it is open. Any other ride
    (active, or locking with the rider's lock unanswered) may leave the vehicle open."""
    if ride.state != RideState.PAUSED or ride.lock_command_id is None or not vehicle.locked:
        return False
    return fleet_selectors.command_state(command_id=ride.lock_command_id) == CommandState.ACKED


def ride_charge(*, ride: Ride) -> None:
    """Charge the stored fare through billing (idempotent per ride); the sweep retries if this fails."""
    billing = billing_selectors.ride_billing_get(ride_id=ride.id)
    if billing is None or billing.status == billing.Status.CHARGED or ride.fare is None:
        return
    try:
        billing_rides.ride_charge_final(ride_id=ride.id, fare=fares.Fare.from_json(ride.fare), city=ride.city)
    except Exception:  # noqa: BLE001 - the ride is ended; the sweep retries the charge
        logger.exception("charge of ride %s failed; will retry", ride.id)


# A ride that ended this recently is left to the process that ended it: it charges right after its commit, and
# a sweep charging it at the same time would repeat the provider calls (harmless: same keys, but twice the calls).
CHARGE_SETTLE = timedelta(seconds=30)


def rides_charge_pending(*, since: timedelta = timedelta(days=2), now: datetime | None = None) -> int:
    """Retry the charge of ended rides whose billing is not charged yet (a crash between end and charge), and
    the release of cancelled rides' holds that failed (the provider was down). Rides that ended less than
    ``CHARGE_SETTLE`` ago are skipped. Beat runs it every ``RIDES_CHARGE_SWEEP_S``."""
    now = now or timezone.now()
    pending = billing_selectors.ride_ids_awaiting_charge(since=now - since)
    count = 0
    rides = Ride.objects.filter(id__in=pending, state__in=[RideState.ENDED, RideState.CANCELLED],
                                ended_at__lt=now - CHARGE_SETTLE).select_related("city")
    for ride in rides:
        if ride.state == RideState.CANCELLED:
            hold_release(ride.id)
        else:
            ride_charge(ride=ride)
        count += 1
    return count


def ride_lock_reported(*, ride_id: uuid.UUID, at: datetime) -> Ride:
    """Telemetry says the ride's vehicle is locked and not moving at ``at`` (device time): a ride ``locking``
    since before then ends as its lock acknowledgement would end it, whether or not that answer ever comes (it
    changes nothing later). Anything else is left alone. Charged after commit; runs in the caller's transaction
    (the telemetry batch)."""
    with transaction.atomic():
        _, ride = lock_ride(ride_id)
        requested = ride.end_requested_at
        if ride.state != RideState.LOCKING or requested is None or at < requested:
            return ride  # a reading from before the end request says nothing about the end's lock
        ride = finish_locked(ride=ride, at=min(at, timezone.now()))
    logger.info("ride %s ended on a telemetry report of its vehicle locked", ride.id)
    transaction.on_commit(lambda: ride_charge(ride=ride))
    return ride


def ride_end_now(*, ride_id: uuid.UUID, reason: str, note: str = "", actor: User | None = None) -> Ride:
    """Ops force-end / auto-end: ends at once without the zone rules or the lock ack. Unless the vehicle confirmed
    the ride's pause lock, it is held out of service until it confirms a fresh lock (``finish_locked``)."""
    with transaction.atomic():
        vehicle, ride = lock_ride(ride_id)
        require_state(ride, RideState.UNLOCKING, RideState.ACTIVE, RideState.PAUSED, RideState.LOCKING)
        was = ride.state
        if ride.state == RideState.UNLOCKING:
            ride = ride_cancel_unlocking(ride=ride, reason=reason, actor_kind="ops")
        else:
            ride.end_note = note[:300]
            ride = finish_locked(ride=ride, at=timezone.now(), reason=reason, actor=actor,
                                 secured=_confirmed_locked(ride, vehicle))
        audit.audit_staff_action(actor=actor, action="rides.force_end", obj=ride, before={"state": was},
                                 after={"state": ride.state, "fare_total": ride.fare_total}, reason=note)
    if ride.state == RideState.CANCELLED:
        hold_release(ride.id)
    else:
        ride_charge(ride=ride)
    return ride
