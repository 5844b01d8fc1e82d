"""Condition alerts a batch opens and resolves (docs/fleet.md#alerts): unauthorised movement, battery low, comms
lost (resolved only: the liveness sweep finds silence, ``fleet.services.alert_sweep`` opens it), outside the
operating area. Opening goes into the batch's one ``ops_alerts_open``; resolving is one indexed SELECT per kind,
only for the vehicles whose condition crossed back (charged, back in contact, back inside): a batch of plain
positions pays no query here."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable

from django.conf import settings

from fleet import geofence
from fleet import services as fleet_services
from fleet.models import OpsAlertKind, OpsAlertSeverity
from fleet.states import Status
from telemetry.reactions.geo import GeoResult, on_trip
from telemetry.reactions.summary import VehicleBatch
from telemetry.reactions.vehicle import LOST, Guard

OFF_STREET = frozenset({Status.RETIRED, Status.IN_WORKSHOP, Status.CHARGING})  # no battery alert for these
# Vehicles that ops move on purpose (van, workshop, charger, pound) or that are on a trip do not raise it.
MOVED_BY_OPS = frozenset({Status.ON_TRIP, Status.REBALANCING, Status.IN_WORKSHOP, Status.CHARGING, Status.IMPOUNDED,
                          Status.RETIRED, Status.MAINTENANCE})


def _name(vehicle: VehicleBatch) -> str:
    return vehicle.before.code or str(vehicle.vehicle_id)


def _displacement_m(vehicle: VehicleBatch) -> float:
    before = vehicle.before
    if not vehicle.fixes or before.lat is None or before.lon is None:
        return 0.0
    fix = vehicle.fixes[-1]
    assert fix.lat is not None and fix.lon is not None  # fixes have a position
    return geofence.haversine_m(before.lon, before.lat, fix.lon, fix.lat)


def movement(vehicles: Iterable[VehicleBatch], guard: Guard, alerts: list[fleet_services.AlertSpec]) -> None:
    """Moving without a trip (a fresh reading at ``ALERT_MOVEMENT_SPEED_KPH`` or more, or the position moved
    ``ALERT_MOVEMENT_DISTANCE_M`` beyond the fix's accuracy) opens ``unauthorised_movement`` (critical) and
    refreshes its ``condition_seen_at`` (one UPDATE, only when something moves). Resolving is the beat sweep's
    (``fleet.services.alert_sweep``): a ride started, or no movement for ``ALERT_MOVEMENT_CLEAR_S`` while the
    vehicle kept reporting; so a batch of parked vehicles pays no query here."""
    fast, far = settings.ALERT_MOVEMENT_SPEED_KPH, settings.ALERT_MOVEMENT_DISTANCE_M
    moving: list[VehicleBatch] = []
    for vehicle in vehicles:
        newest = vehicle.newest
        if newest is None or on_trip(vehicle) or vehicle.before.trip_id is not None:
            continue
        if vehicle.before.status in MOVED_BY_OPS:
            continue
        speed = max((r.speed_kph for r in vehicle.fixes if r.speed_kph is not None), default=newest.speed_kph or 0)
        fix = vehicle.fixes[-1] if vehicle.fixes else newest
        distance = _displacement_m(vehicle)
        if speed < fast and distance - (fix.accuracy_m or 0) < far:
            continue
        moving.append(vehicle)
        alerts.append(fleet_services.AlertSpec(
            vehicle.vehicle_id, vehicle.before.city_id, OpsAlertKind.UNAUTHORISED_MOVEMENT, OpsAlertSeverity.CRITICAL,
            f"Vehicle {_name(vehicle)} is moving without a trip ({speed:.0f} km/h, {distance:.0f} m)",
            {"speed_kph": speed, "distance_m": round(distance), "lat": fix.lat, "lon": fix.lon,
             "at": newest.at.isoformat(), "status": vehicle.before.status},
        ))
    if moving:
        at = max(v.received_at for v in moving)
        guard("movement_seen", None, lambda: fleet_services.ops_alerts_seen(
            vehicle_ids=[v.vehicle_id for v in moving], kind=OpsAlertKind.UNAUTHORISED_MOVEMENT, at=at))


def battery(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard,
            alerts: list[fleet_services.AlertSpec]) -> None:
    """Crossing below ``FLEET_LOW_BATTERY_PCT`` opens ``battery_low`` (info; the sweep opens it for vehicles that
    were already low); reaching ``FLEET_CHARGED_BATTERY_PCT`` from below (charged or swapped) resolves it."""
    low, charged = settings.FLEET_LOW_BATTERY_PCT, settings.FLEET_CHARGED_BATTERY_PCT
    up: list[uuid.UUID] = []
    for vehicle in vehicles:
        level, previous = vehicle.battery_pct, vehicle.before.battery_pct
        if level is None:
            continue
        if level < low and (previous is None or previous >= low) and vehicle.before.status not in OFF_STREET:
            alerts.append(fleet_services.AlertSpec(
                vehicle.vehicle_id, vehicle.before.city_id, OpsAlertKind.BATTERY_LOW, OpsAlertSeverity.INFO,
                f"Vehicle {_name(vehicle)} battery at {level} % (below {low} %)", {"battery_pct": level}))
        elif level >= charged and (previous is None or previous < charged):
            up.append(vehicle.vehicle_id)
    if up:
        done = guard("battery_charged_alert", None, lambda: fleet_services.ops_alerts_resolve_for(
            vehicle_ids=up, kind=OpsAlertKind.BATTERY_LOW, reason="battery charged or swapped"))
        counters["alerts_resolved"] += len(done or [])


def comms(vehicles: Iterable[VehicleBatch], counters: Counter[str], guard: Guard) -> None:
    """A vehicle that was non_contactable or missing speaks again: its ``comms_lost`` alert resolves."""
    back = [v.vehicle_id for v in vehicles if v.before.status in LOST]
    if back:
        done = guard("comms_alert", None, lambda: fleet_services.ops_alerts_resolve_for(
            vehicle_ids=back, kind=OpsAlertKind.COMMS_LOST, reason="comms restored"))
        counters["alerts_resolved"] += len(done or [])


def operating_area(zones: GeoResult, counters: Counter[str], guard: Guard,
                   alerts: list[fleet_services.AlertSpec]) -> None:
    """Leaving every operating area opens ``outside_operating_area`` (warning when parked or moved without a trip,
    info on a trip: riders may pass through); coming back inside resolves it."""
    for vehicle, fix in zones.left_area:
        trip = on_trip(vehicle)
        alerts.append(fleet_services.AlertSpec(
            vehicle.vehicle_id, vehicle.before.city_id, OpsAlertKind.OUTSIDE_OPERATING_AREA,
            OpsAlertSeverity.INFO if trip else OpsAlertSeverity.WARNING,
            f"Vehicle {_name(vehicle)} left the operating area{' on a trip' if trip else ''}",
            {"lat": fix.lat, "lon": fix.lon, "at": fix.at.isoformat(),
             "ride_id": str(vehicle.before.trip_id) if vehicle.before.trip_id else None},
        ))
    if zones.back_in_area:
        done = guard("area_alert", None, lambda: fleet_services.ops_alerts_resolve_for(
            vehicle_ids=[v.vehicle_id for v in zones.back_in_area], kind=OpsAlertKind.OUTSIDE_OPERATING_AREA,
            reason="back inside the operating area"))
        counters["alerts_resolved"] += len(done or [])
