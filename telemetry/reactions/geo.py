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


def on_trip(vehicle: VehicleBatch) -> bool:
    return vehicle.before.trip_id is not None and mds_state(vehicle.before.status) == MdsState.ON_TRIP


def evaluate(vehicles: Iterable[VehicleBatch], result: GeoResult) -> None:
    """Evaluate the zones of every vehicle with fresh fixes, city by city; fills ``result``."""
    by_city: dict[uuid.UUID, list[VehicleBatch]] = {}
    for vehicle in vehicles:
        if vehicle.fixes:
            by_city.setdefault(vehicle.before.city_id, []).append(vehicle)
    for city_id, group in by_city.items():
        compiled = fleet_selectors.geofence_for_city(city_id)
        if len(compiled):
            _evaluate_city(compiled, group, result)


def _evaluate_city(compiled: geofence.CompiledZones, group: list[VehicleBatch], result: GeoResult) -> None:
    lons: list[float] = []
    lats: list[float] = []
    types: list[str | None] = []
    spans: list[tuple[VehicleBatch, int, int, bool]] = []
    at: datetime | None = None
    for vehicle in group:
        start, before = len(lons), vehicle.before
        has_origin = before.lat is not None and before.lon is not None
        if has_origin:
            lons.append(before.lon)  # type: ignore[arg-type]
            lats.append(before.lat)  # type: ignore[arg-type]
        for fix in vehicle.fixes:
            lons.append(fix.lon)  # type: ignore[arg-type]
            lats.append(fix.lat)  # type: ignore[arg-type]
        types.extend([before.vehicle_type_code] * (len(lons) - start))
        newest = vehicle.fixes[-1].at
        at = newest if at is None or newest > at else at
        spans.append((vehicle, start, len(lons), has_origin))
    verdicts = compiled.evaluate_batch(np.array(lons), np.array(lats), types, at)
    result.points += len(verdicts)
    specs: dict[str, geofence.ZoneSpec] | None = None
    for vehicle, start, stop, has_origin in spans:
        first = verdicts[start]
        if all(v is first for v in verdicts[start + 1:stop]):
            continue  # the common case: still in the same zones
        if specs is None:
            specs = {zone.id: zone for zone in compiled.zones}
        _vehicle_changes(compiled, specs, vehicle, verdicts[start:stop], 1 if has_origin else 0, result)


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
    final = verdicts[-1].maximum_speed_kph
    if trip and verdicts[0].maximum_speed_kph != final:
        index = len(verdicts) - 1
        while index > 1 and verdicts[index - 1].maximum_speed_kph == final:
            index -= 1
        result.speed_changes.append(SpeedChange(vehicle, vehicle.fixes[index - offset], final, verdicts[-1].zone_id))
