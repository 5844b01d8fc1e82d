"""``react``: everything a batch of readings sets off, called once per batch inside the batch's transaction."""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from core import push
from fleet import services as fleet_services
from fleet.models import OpsTaskKind
from fleet.models.vehicles import Flag
from rides.services import track as ride_track
from telemetry.messages import Reading, VehicleBefore
from telemetry.reactions import alerts as condition_alerts
from telemetry.reactions import geo, vehicle
from telemetry.reactions.summary import VehicleBatch, summarise

logger = logging.getLogger(__name__)


def react(*, readings: Sequence[Reading], before: Mapping[uuid.UUID, VehicleBefore]) -> dict[str, int]:
    """React to a batch (``readings`` sorted by (vehicle, seq), duplicates dropped; ``before`` = every vehicle of
    the batch as it was before it). Must run inside the batch's transaction, after the history rows and the
    latest vehicle state are written: everything here commits or rolls back with the batch, so a retried batch
    reacts once. Returns counters (zone_entries, acks, ...; ``errors`` counts reactions that failed and were
    rolled back alone, in their own savepoint)."""
    counters: Counter[str] = Counter()
    guard = vehicle.Guard(counters)
    vehicles = summarise(readings, before)
    counters["vehicles"] = len(vehicles)
    counters["late"] = sum(v.late for v in vehicles.values())
    alerts: list[fleet_services.AlertSpec] = []
    tasks: list[fleet_services.TaskSpec] = []

    vehicle.acks(vehicles.values(), counters)
    vehicle.comms_restored(vehicles.values(), counters, guard)
    progress = _tracks(vehicles.values(), counters, guard)
    cities: dict[uuid.UUID, list[VehicleBatch]] = defaultdict(list)
    for v in vehicles.values():
        cities[v.before.city_id].append(v)
    zones = geo.GeoResult()
    _each_city(cities, counters, zones)
    counters.update({"zone_entries": zones.entries, "zone_exits": zones.exits, "geofence_points": zones.points})
    vehicle.speed_limits(zones.speed_changes, counters, guard, alerts)
    vehicle.zone_warnings(zones.warnings, progress, counters, guard, alerts)
    charged = vehicle.battery(vehicles.values(), counters, guard, tasks)
    vehicle.locks_reported(vehicles.values(), counters, guard)
    vehicle.rides_locked(vehicles.values(), counters, guard)
    tipped = vehicle.alarms(vehicles.values(), alerts)
    condition_alerts.comms(vehicles.values(), counters, guard)
    condition_alerts.battery(vehicles.values(), counters, guard, alerts)
    condition_alerts.movement(vehicles.values(), guard, alerts)
    condition_alerts.operating_area(zones, counters, guard, alerts)

    counters["alerts_opened"] = len(guard.batch("alerts", alerts, lambda a: fleet_services.ops_alerts_open(alerts=a)))
    counters["tasks_opened"] = len(guard.batch("tasks", tasks, lambda t: fleet_services.ops_tasks_open(tasks=t)))
    if tipped:
        guard("flag", None, lambda: fleet_services.vehicles_flag(vehicle_ids=tipped, flag=Flag.TIPPED_OVER))
    if charged:
        guard("close_tasks", None,
              lambda: fleet_services.ops_tasks_close_for(vehicle_ids=charged, kind=OpsTaskKind.SWAP_BATTERY,
                                                         reason="battery reported charged"))
    _live(cities, progress, counters)
    return {name: count for name, count in counters.items() if count}


def _each_city(cities: Mapping[uuid.UUID, list[VehicleBatch]], counters: Counter[str], zones: geo.GeoResult) -> None:
    for city_id, group in cities.items():
        try:
            geo.evaluate(city_id, group, zones)
        except Exception:  # computation on the cached compiled zones: nothing to roll back
            logger.exception("telemetry geofence of city %s failed", city_id)
            counters["errors"] += 1


def _tracks(vehicles: Any, counters: Counter[str], guard: vehicle.Guard) -> dict[uuid.UUID, ride_track.RideProgress]:
    """Append the fresh fixes of vehicles on a trip to their ride's track (the ride id is the MDS trip_id), then
    insert their late fixes where they belong in time (the ride's distance is corrected for them)."""
    fixes: list[ride_track.TrackFix] = []
    late: list[ride_track.TrackFix] = []
    origins: dict[uuid.UUID, tuple[float, float]] = {}
    for v in vehicles:
        if not (v.fixes or v.late_fixes) or not geo.on_trip(v):
            continue
        ride_id, before = v.before.trip_id, v.before
        if v.fixes and before.lat is not None and before.lon is not None:
            origins[ride_id] = (before.lat, before.lon)
        fixes.extend(ride_track.TrackFix(ride_id, r.at, r.lat, r.lon) for r in v.fixes)
        late.extend(ride_track.TrackFix(ride_id, r.at, r.lat, r.lon) for r in v.late_fixes)
    if not fixes and not late:
        return {}

    def run(items: Sequence[ride_track.TrackFix]) -> list[ride_track.RideProgress]:
        return list(ride_track.ride_track_append_batch(fixes=items, origins=origins).values())

    def run_late(items: Sequence[ride_track.TrackFix]) -> list[ride_track.RideProgress]:
        return list(ride_track.ride_track_insert_late(fixes=items).values())

    found = guard.batch("ride_track", fixes, run, key=lambda fix: fix.ride_id)  # one ride per vehicle
    inserted = guard.batch("ride_track_late", late, run_late, key=lambda fix: fix.ride_id)
    counters["track_points"] = sum(p.added for p in found)
    if inserted:
        counters["late_track_points"] = sum(p.added for p in inserted)
    progress = {p.ride_id: p for p in found}
    for p in inserted:  # the distance after both statements (a ride without fresh fixes pushes no update)
        if p.ride_id in progress:
            progress[p.ride_id] = p
    return progress


def _live(cities: Mapping[uuid.UUID, list[VehicleBatch]], progress: Mapping[uuid.UUID, ride_track.RideProgress],
          counters: Counter[str]) -> None:
    """One fleet_positions message per city, one ride.updated per ride that moved (both sent after commit)."""
    for city_id, group in cities.items():
        positions: list[dict[str, Any]] = []
        for v in group:
            newest = v.newest
            if newest is None:
                continue
            fix = v.fixes[-1] if v.fixes else None
            before = v.before
            lat, lon = (fix.lat, fix.lon) if fix is not None else (before.lat, before.lon)
            level = v.battery_pct if v.battery_pct is not None else before.battery_pct
            at = newest.at.isoformat()
            positions.append({"id": str(before.vehicle_id), "code": before.code, "lat": lat, "lon": lon,
                              "status": v.status, "battery_pct": level, "at": at})
            ride = progress.get(before.trip_id) if before.trip_id is not None and fix is not None else None
            if ride is not None:
                push.to_ride(ride.ride_id, "ride.updated",
                             {"lat": lat, "lon": lon, "battery_pct": level, "at": at, "distance_m": ride.distance_m})
                counters["ride_updates"] += 1
        push.fleet_positions(city_id, positions)
        counters["positions_pushed"] += len(positions)
