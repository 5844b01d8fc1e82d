"""Per-vehicle reactions that change state through fleet services: command acks, comms restored, battery
thresholds, alarms, slow-zone speed limits, zone warnings. Each call that can fail runs in its own savepoint
(``Guard``), so one vehicle's failure is logged and counted, never aborting the batch."""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from accounts import services as accounts_services
from core import push
from core.errors import DomainError
from core.keys import digest_key
from fleet import errors as fleet_errors
from fleet import selectors as fleet_selectors
from fleet import services as fleet_services
from fleet.models import ActorKind, CommandKind, OpsAlertKind, OpsAlertSeverity, OpsTaskKind
from fleet.services.transitions import Location
from fleet.states import Status
from rides import selectors as ride_selectors
from rides import services as ride_services
from rides.models import RideState
from rides.services.track import RideProgress
from telemetry.messages import Reading
from telemetry.reactions.geo import SpeedChange, ZoneEntry, on_trip
from telemetry.reactions.summary import VehicleBatch

logger = logging.getLogger(__name__)

LOST = (Status.NON_CONTACTABLE, Status.MISSING)
ALARM_SEVERITY: dict[str, str] = {OpsAlertKind.TIPPED_OVER: OpsAlertSeverity.WARNING, OpsAlertKind.TAMPER: OpsAlertSeverity.CRITICAL}


class Guard:
    """Runs reactions in savepoints; a failure rolls back just that reaction and is counted in ``errors``.
    ``failures[label][vehicle_id]`` is the reason (an error code or an exception's class) of each failed call."""

    def __init__(self, counters: Counter[str]) -> None:
        self.counters = counters
        self.failures: defaultdict[str, dict[uuid.UUID | None, str]] = defaultdict(dict)

    def __call__[T](self, label: str, vehicle_id: uuid.UUID | None, fn: Callable[[], T]) -> T | None:
        try:
            with transaction.atomic():
                return fn()
        except DomainError as exc:  # a business refusal (e.g. a transition the state machine forbids)
            logger.info("telemetry %s for vehicle %s refused: %s", label, vehicle_id, exc.code)
            self.failures[label][vehicle_id] = exc.code
        except Exception as exc:
            logger.exception("telemetry %s for vehicle %s failed", label, vehicle_id)
            self.failures[label][vehicle_id] = type(exc).__name__
        self.counters["errors"] += 1
        return None

    def batch[T](self, label: str, items: Sequence[Any], run: Callable[[Sequence[Any]], list[T]],
                 key: Callable[[Any], uuid.UUID] = lambda item: item.vehicle_id) -> list[T]:
        """One statement for the whole batch; if it fails, once per vehicle so only the bad vehicle's part is
        lost (the common case pays one savepoint, not one per vehicle). The traceback is logged by the vehicle
        whose part fails again, with its id, not a second time for the batch."""
        if not items:
            return []
        try:
            with transaction.atomic():
                return run(items)
        except Exception as exc:
            logger.warning("telemetry %s failed for the batch (%s: %s); retrying vehicle by vehicle", label,
                           type(exc).__name__, exc)
        per_vehicle: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for item in items:
            per_vehicle[key(item)].append(item)
        out: list[T] = []
        for vehicle_id, group in per_vehicle.items():
            out.extend(self(label, vehicle_id, partial(run, group)) or [])
        return out


def _location(reading: Reading | None) -> Location | None:
    if reading is None or reading.lat is None or reading.lon is None:
        return None
    return Location(reading.lat, reading.lon)


def acks(vehicles: Iterable[VehicleBatch], counters: Counter[str]) -> None:
    """Close the acknowledged commands. An ack for an unknown or not yet sent command is ignored."""
    for vehicle in vehicles:
        for ack, reading in vehicle.acks:
            try:
                with transaction.atomic():
                    fleet_services.command_ack(correlation_id=ack.correlation_id, ok=ack.ok, at=reading.at,
                                               detail=ack.reason)
                counters["acks"] += 1
            except (fleet_errors.CommandNotFound, fleet_errors.CommandNotSent):
                counters["acks_ignored"] += 1
            except Exception:
                logger.exception("telemetry ack %s of vehicle %s failed", ack.correlation_id, vehicle.vehicle_id)
                counters["errors"] += 1


def comms_restored(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard) -> None:
    """A vehicle that was non_contactable or missing speaks again: MDS ``comms_restored`` (server time: the
    device may replay readings older than the loss of contact)."""
    for vehicle in vehicles:
        if vehicle.before.status not in LOST:
            continue

        def restore(vehicle: VehicleBatch = vehicle) -> str:
            common: dict[str, Any] = {
                "vehicle_id": vehicle.vehicle_id, "event_types": ["comms_restored"], "actor_kind": ActorKind.DEVICE,
                "at": vehicle.received_at, "location": _location(vehicle.fixes[-1] if vehicle.fixes else None),
                "battery_pct": vehicle.battery_pct, "trip_id": vehicle.before.trip_id,
            }
            try:
                with transaction.atomic():
                    return fleet_services.vehicle_transition(**common).status
            except fleet_errors.VehicleStateRequired:  # no status from before the loss: back on the street
                return fleet_services.vehicle_transition(**common, status=Status.AVAILABLE).status

        status = guard("comms_restored", vehicle.vehicle_id, restore)
        if status is not None:
            vehicle.status = status
            counters["comms_restored"] += 1


def battery(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard,
            tasks: list[fleet_services.TaskSpec]) -> list[uuid.UUID]:
    """Low battery: crossing below ``FLEET_LOW_BATTERY_PCT`` opens a swap task, and an available vehicle becomes
    low_battery (MDS battery_low; a vehicle on a trip keeps riding). Charged: a low_battery vehicle reporting
    ``FLEET_CHARGED_BATTERY_PCT`` or more is available again (battery_charged). Returns the charged vehicles."""
    low, charged_at = settings.FLEET_LOW_BATTERY_PCT, settings.FLEET_CHARGED_BATTERY_PCT
    charged: list[uuid.UUID] = []
    for vehicle in vehicles:
        level, before = vehicle.battery_pct, vehicle.before
        if level is None:
            continue
        if level < low:
            crossed = before.battery_pct is None or before.battery_pct >= low
            if crossed or vehicle.status == Status.AVAILABLE:
                tasks.append(fleet_services.TaskSpec(vehicle.vehicle_id, before.city_id, OpsTaskKind.SWAP_BATTERY,
                                                     f"battery {level} % (below {low} %)"))
            if vehicle.status == Status.AVAILABLE and _transition(vehicle, "battery_low", guard):
                counters["battery_low"] += 1
        elif level >= charged_at and vehicle.status == Status.LOW_BATTERY and _transition(
            vehicle, "battery_charged", guard
        ):
            counters["battery_charged"] += 1
            charged.append(vehicle.vehicle_id)
    return charged


def locks_reported(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard) -> None:
    """A vehicle held out of service until it confirms a lock (a ride ended without one: fleet.services.securing)
    that reports itself locked is released. One query for the batch, only when a maintenance vehicle says locked."""
    reported = [v for v in vehicles if v.status == Status.MAINTENANCE and v.newest is not None and v.newest.locked]
    if not reported:
        return
    held = fleet_selectors.vehicles_awaiting_lock(vehicle_ids=[v.vehicle_id for v in reported])
    for vehicle in reported:
        if vehicle.vehicle_id not in held:
            continue
        status = guard("lock_confirmed", vehicle.vehicle_id,
                       partial(fleet_services.vehicle_lock_confirmed, vehicle_id=vehicle.vehicle_id))
        if status is not None:
            vehicle.status = status
            counters["locks_confirmed"] += 1


def rides_locked(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard) -> None:
    """A vehicle on a trip whose newest fresh reading says locked and not moving: a ride ``locking`` on it ends
    (``rides.services.ride_lock_reported``), even if the lock's acknowledgement is lost or late. One query for
    the batch, only when such a vehicle is in it (a paused ride's vehicle is one too)."""
    still = settings.FLEET_MOVING_SPEED_KPH
    reported: dict[uuid.UUID, Reading] = {}
    for v in vehicles:
        newest = v.newest
        if v.before.status == Status.ON_TRIP and newest is not None and newest.locked and (
                newest.speed_kph is None or newest.speed_kph <= still):
            reported[v.vehicle_id] = newest
    if not reported:
        return
    for vehicle_id, ride_id in ride_selectors.rides_locking_by_vehicle(vehicle_ids=list(reported)).items():
        ride = guard("ride_lock_reported", vehicle_id,
                     partial(ride_services.ride_lock_reported, ride_id=ride_id, at=reported[vehicle_id].at))
        if ride is not None and ride.state == RideState.ENDED:
            counters["rides_ended_locked"] += 1


def _transition(vehicle: VehicleBatch, event: str, guard: Guard) -> bool:
    # Server time of reception, not the device clock: a unit whose clock lags behind the vehicle's last event
    # (e.g. a trip_end) would otherwise be logged as out of order, not applied, and retried on every batch.
    def run() -> str:
        return fleet_services.vehicle_transition(
            vehicle_id=vehicle.vehicle_id, event_types=[event], actor_kind=ActorKind.DEVICE,
            at=vehicle.received_at, location=_location(vehicle.fixes[-1] if vehicle.fixes else None),
            battery_pct=vehicle.battery_pct,
        ).status

    status = guard(event, vehicle.vehicle_id, run)
    if status is None:
        return False
    vehicle.status = status
    return True


def alarms(vehicles: Iterable[VehicleBatch], alerts: list[fleet_services.AlertSpec]) -> list[uuid.UUID]:
    """An alert per (vehicle, alarm); returns the vehicles reporting tipped_over (to flag)."""
    tipped: list[uuid.UUID] = []
    for vehicle in vehicles:
        for alarm in sorted(vehicle.alarms):
            if alarm not in ALARM_SEVERITY:
                continue
            newest = vehicle.fixes[-1] if vehicle.fixes else None
            alerts.append(fleet_services.AlertSpec(
                vehicle.vehicle_id, vehicle.before.city_id, alarm, ALARM_SEVERITY[alarm],
                f"Vehicle {vehicle.before.code or vehicle.vehicle_id} reports {alarm.replace('_', ' ')}",
                {"lat": newest.lat if newest else vehicle.before.lat, "lon": newest.lon if newest else vehicle.before.lon},
            ))
            if alarm == OpsAlertKind.TIPPED_OVER:
                tipped.append(vehicle.vehicle_id)
    return tipped


def speed_limit_key(vehicle_id: uuid.UUID | str, zone_id: uuid.UUID | str | None, seq: int) -> str:
    """The idempotency key of a speed-limit command: the vehicle, the zone (None: back to normal) and the fix where
    the limit changed, digested to a fixed length (``Command.idempotency_key`` is 100 characters; a unit may count
    ``seq`` in epoch milliseconds or up to 2**63 - 1)."""
    return digest_key("telemetry:speed", vehicle_id, zone_id or "normal", seq)


def speed_limits(changes: list[SpeedChange], counters: Counter[str], guard: Guard,
                 alerts: list[fleet_services.AlertSpec]) -> None:
    """Throttle a vehicle on a trip to the slow zone's limit, or give it its normal limit back, in one INSERT.
    The idempotency key names the vehicle, the zone and the fix where the limit changed (``speed_limit_key``): a
    retried batch queues nothing new. A zero limit (throttle cut) goes through ``command_queue`` and its
    moving-vehicle interlock. A vehicle whose command could not be queued (refused or failed) gets a
    ``speed_limit_not_applied`` alert: nothing retries it, the next fixes in the same zone change no limit."""
    if not changes:
        return
    normal = fleet_selectors.vehicle_normal_speed_limits(
        vehicle_type_codes={c.vehicle.before.vehicle_type_code for c in changes})
    commands: list[tuple[uuid.UUID, str, dict[str, Any], str]] = []
    for change in changes:
        before = change.vehicle.before
        limit = change.max_speed_kph if change.max_speed_kph is not None else normal[before.vehicle_type_code]
        key = speed_limit_key(before.vehicle_id, change.zone_id, change.reading.seq)
        commands.append((before.vehicle_id, CommandKind.SET_SPEED_LIMIT, {"max_speed_kph": min(100, limit)}, key))
    cuts = [c for c in commands if c[2]["max_speed_kph"] == 0]
    for vehicle_id, kind, params, key in cuts:
        if guard("speed_limit", vehicle_id, partial(fleet_services.command_queue, vehicle_id=vehicle_id, kind=kind,
                                                     params=params, idempotency_key=key)) is not None:
            counters["speed_limits"] += 1
    queued = guard.batch("speed_limit", [c for c in commands if c not in cuts],
                         lambda group: fleet_services.commands_queue_many(commands=group), key=lambda c: c[0])
    counters["speed_limits"] += len(queued)
    failed = guard.failures["speed_limit"]
    for change, (vehicle_id, _, params, _) in zip(changes, commands, strict=True):
        if vehicle_id in failed:
            alerts.append(_speed_limit_alert(change, params["max_speed_kph"], failed[vehicle_id]))


def _speed_limit_alert(change: SpeedChange, limit: int, reason: str) -> fleet_services.AlertSpec:
    vehicle, reading = change.vehicle, change.reading
    where = "in a slow zone" if change.zone_id is not None else "leaving a slow zone"
    return fleet_services.AlertSpec(
        vehicle.vehicle_id, vehicle.before.city_id, OpsAlertKind.SPEED_LIMIT_NOT_APPLIED, OpsAlertSeverity.WARNING,
        f"Vehicle {vehicle.before.code or vehicle.vehicle_id} could not be limited to {limit} km/h {where} ({reason})",
        {"max_speed_kph": limit, "zone_id": change.zone_id, "reason": reason, "seq": reading.seq,
         "lat": reading.lat, "lon": reading.lon, "at": reading.at.isoformat(),
         "ride_id": str(vehicle.before.trip_id) if vehicle.before.trip_id else None},
    )


def zone_warnings(entries: list[ZoneEntry], progress: Mapping[uuid.UUID, RideProgress], counters: Counter[str],
                  guard: Guard, alerts: list[fleet_services.AlertSpec]) -> None:
    """Warn the rider (ride.zone_warning) on entering a no-ride, slow or no-parking zone; a no-ride zone also
    notifies the rider and opens an ops alert."""
    for entry in entries:
        vehicle, reading, zone = entry.vehicle, entry.reading, entry.zone
        ride_id = vehicle.before.trip_id
        if ride_id is None or not on_trip(vehicle):
            continue
        payload = {"zone_id": zone.id, "zone_kind": zone.kind, "zone_name": zone.name, "lat": reading.lat,
                   "lon": reading.lon, "at": reading.at.isoformat(), "max_speed_kph": entry.verdict.maximum_speed_kph,
                   "ride_through_allowed": entry.verdict.ride_through_allowed,
                   "ride_end_allowed": entry.verdict.ride_end_allowed}
        push.to_ride(ride_id, "ride.zone_warning", payload)
        counters["zone_warnings"] += 1
        if zone.kind != "no_ride":
            continue
        alerts.append(fleet_services.AlertSpec(
            vehicle.vehicle_id, vehicle.before.city_id, OpsAlertKind.NO_RIDE_ZONE, OpsAlertSeverity.CRITICAL,
            f"Vehicle {vehicle.before.code or vehicle.vehicle_id} entered no-ride zone {zone.name} on a trip",
            {**payload, "ride_id": str(ride_id)},
        ))
        ride = progress.get(ride_id)
        if ride is not None:
            _notify_no_ride(ride, zone, payload, vehicle.vehicle_id, guard)


def _notify_no_ride(ride: RideProgress, zone: Any, payload: dict[str, Any], vehicle_id: uuid.UUID, guard: Guard) -> None:
    def send() -> object:
        return accounts_services.notify(
            user_id=ride.rider_id, kind="ride.zone_warning", title=gettext_lazy("No-riding zone"),
            body=format_lazy(gettext_lazy("You entered {zone}, where riding is not allowed. Please push the vehicle out of "
                               "the zone."), zone=zone.name),
            data={**payload, "ride_id": str(ride.ride_id)},
        )

    guard("notify", vehicle_id, send)
