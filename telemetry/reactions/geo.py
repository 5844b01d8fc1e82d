"""The geofence on a batch: one ``evaluate_batch`` per city over every vehicle's previous position and its fresh
fixes, then zone entries/exits per vehicle by comparing consecutive verdicts.

Verdicts are interned by the engine (equal answers are the same object), so the common case (a vehicle that
stayed in the same zones) is one identity check per point; only vehicles whose verdict changed get the
(Python) transition work.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from fleet import geofence
from fleet import selectors as fleet_selectors
from fleet.states import MdsState, mds_state
from telemetry.messages import Reading
from telemetry.reactions.summary import VehicleBatch

# Entering a zone of these kinds on a trip warns the rider (ride.zone_warning).
WARN_KINDS = (geofence.ZoneKind.NO_RIDE, geofence.ZoneKind.SLOW, geofence.ZoneKind.NO_PARKING)


@dataclass(frozen=True, slots=True)
class ZoneEntry:
    vehicle: VehicleBatch
    reading: Reading
    zone: geofence.ZoneSpec
    verdict: geofence.Verdict


@dataclass(frozen=True, slots=True)
class SpeedChange:
    """The speed limit that applies at a vehicle's newest fix differs from the one at its previous position."""

    vehicle: VehicleBatch
    reading: Reading  # the fix from which the new limit applies
    max_speed_kph: int | None  # None: no zone limit, restore the vehicle's normal limit
    zone_id: str | None


@dataclass(slots=True)
class GeoResult:
    entries: int = 0
    exits: int = 0
    points: int = 0
    warnings: list[ZoneEntry] = field(default_factory=list)
    speed_changes: list[SpeedChange] = field(default_factory=list)
    left_area: list[tuple[VehicleBatch, Reading]] = field(default_factory=list)  # now outside every operating area
    back_in_area: list[VehicleBatch] = field(default_factory=list)  # back inside one


def on_trip(vehicle: VehicleBatch) -> bool:
    return vehicle.before.trip_id is not None and mds_state(vehicle.before.status) == MdsState.ON_TRIP


def evaluate(city_id: uuid.UUID, vehicles: Iterable[VehicleBatch], result: GeoResult) -> None:
    """Evaluate the zones of a city's vehicles with fresh fixes (one ``evaluate_batch``); fills ``result``."""
    moved = [v for v in vehicles if v.fixes]
    if not moved:
        return
    compiled = fleet_selectors.geofence_for_city(city_id)
    if len(compiled):
        _evaluate_city(compiled, moved, result)


def _evaluate_city(compiled: geofence.CompiledZones, group: list[VehicleBatch], result: GeoResult) -> None:
    points: list[Any] = []  # VehicleBefore (the previous position) and Reading both have .lat and .lon
    types: list[str | None] = []
    starts: list[int] = []
    origins: list[bool] = []
    at: datetime | None = None
    for vehicle in group:
        before = vehicle.before
        starts.append(len(points))
        has_origin = before.lat is not None and before.lon is not None
        origins.append(has_origin)
        if has_origin:
            points.append(before)
        points.extend(vehicle.fixes)
        types.extend([before.vehicle_type_code] * (len(points) - starts[-1]))
        newest = vehicle.fixes[-1].at
        if at is None or newest > at:
            at = newest
    n = len(points)
    lons = np.fromiter((p.lon for p in points), dtype=np.float64, count=n)
    lats = np.fromiter((p.lat for p in points), dtype=np.float64, count=n)
    verdicts = compiled.evaluate_batch(lons, lats, types, at)
    result.points += n
    # Verdicts are interned (equal answers are the same object): a vehicle whose points all share one verdict
    # stayed in the same zones, the common case, found here without a Python loop over the points.
    ids = np.fromiter(map(id, verdicts), dtype=np.int64, count=n)
    changed = np.zeros(n, dtype=np.int64)
    changed[1:] = ids[1:] != ids[:-1]
    changed[starts] = 0  # a vehicle's first point has nothing before it
    moved = np.flatnonzero(np.add.reduceat(changed, starts))
    if not moved.size:
        return
    specs = {zone.id: zone for zone in compiled.zones}
    bounds = [*starts, n]
    for index in moved.tolist():
        vehicle = group[index]
        _vehicle_changes(compiled, specs, vehicle, verdicts[bounds[index]:bounds[index + 1]],
                         1 if origins[index] else 0, result)


def _vehicle_changes(compiled: geofence.CompiledZones, specs: dict[str, geofence.ZoneSpec], vehicle: VehicleBatch,
                     verdicts: list[geofence.Verdict], offset: int, result: GeoResult) -> None:
    """``verdicts[i]`` is the verdict of ``vehicle.fixes[i - offset]`` (``verdicts[0]`` is the previous position
    when ``offset`` is 1)."""
    trip = on_trip(vehicle)
    previous = verdicts[0]
    for index in range(1, len(verdicts)):
        current = verdicts[index]
        if current is previous:
            continue
        zones = compiled.zone_transitions(previous.zone_ids, current.zone_ids)
        result.entries += len(zones.entered)
        result.exits += len(zones.exited)
        if trip and zones.entered:
            kinds = compiled.kind_transitions(previous.zone_ids, current.zone_ids)
            for kind in kinds.entered:
                if kind in WARN_KINDS:
                    zone = next(specs[z] for z in current.zone_ids if specs[z].kind == kind)
                    result.warnings.append(ZoneEntry(vehicle, vehicle.fixes[index - offset], zone, current))
        previous = current
    if verdicts[-1] is not verdicts[0]:
        area = compiled.kind_transitions(verdicts[0].zone_ids, verdicts[-1].zone_ids)
        if geofence.ZoneKind.OPERATING_AREA in area.exited:
            result.left_area.append((vehicle, vehicle.fixes[-1]))
        elif geofence.ZoneKind.OPERATING_AREA in area.entered:
            result.back_in_area.append(vehicle)
    final = verdicts[-1].maximum_speed_kph
    if trip and verdicts[0].maximum_speed_kph != final:
        index = len(verdicts) - 1
        while index > 1 and verdicts[index - 1].maximum_speed_kph == final:
            index -= 1
        result.speed_changes.append(SpeedChange(vehicle, vehicle.fixes[index - offset], final, verdicts[-1].zone_id))
