"""Compliance of a city's parked fleet now: vehicles parked where no ride may end (a no-parking or no-ride zone, a
must-park area outside its spots, outside the operating area), vehicles idle for days, vehicles against zone caps.

Fast at city scale: one query reads the parked vehicles' positions (four columns), the city's compiled geofence
answers for all of them at once (``evaluate_batch``: its cell index, no shapely object per vehicle), and only the
rows shown are then read in full (one query). The idle list is one indexed query with a limit.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import Coalesce
from django.utils import timezone

from fleet.models import City, Vehicle, Zone, ZoneKind
from fleet.selectors import zones as zone_selectors
from fleet.selectors.zone_caps import PARKED_STATUSES
from fleet.states import Status

ROWS_MAX = 200  # rows per list on the page; the totals are always complete


@dataclass(frozen=True, slots=True)
class VehicleRow:
    id: uuid.UUID
    code: str
    status: str
    vehicle_type: str
    lat: float | None
    lon: float | None
    since: datetime | None  # the last event (the vehicle's last state change), or when it was added
    zone_id: uuid.UUID | None = None
    zone_name: str = ""
    zone_kind: str = ""

    @property
    def status_label(self) -> str:
        return str(Status(self.status).label).lower()

    @property
    def zone_kind_label(self) -> str:
        return str(ZoneKind(self.zone_kind).label).lower() if self.zone_kind else ""


@dataclass(frozen=True, slots=True)
class CapRow:
    zone_id: uuid.UUID
    name: str
    kind: str
    cap: int
    vehicles: int

    @property
    def over(self) -> int:
        return max(0, self.vehicles - self.cap)


@dataclass
class ComplianceReport:
    city_id: uuid.UUID
    at: datetime
    idle_days: int
    parked: int = 0  # parked vehicles with a position, all checked
    has_operating_area: bool = False
    misparked: list[VehicleRow] = field(default_factory=list)  # in a zone where no ride may end
    misparked_total: int = 0
    outside_area: list[VehicleRow] = field(default_factory=list)
    outside_area_total: int = 0
    idle: list[VehicleRow] = field(default_factory=list)
    idle_total: int = 0
    caps: list[CapRow] = field(default_factory=list)


def compliance_report(*, city_id: uuid.UUID, idle_days: int, at: datetime | None = None,
                      rows_max: int = ROWS_MAX) -> ComplianceReport:
    """The city's compliance now (``at``, default now). Lists hold at most ``rows_max`` rows, totals are complete."""
    at = at or timezone.now()
    report = ComplianceReport(city_id=city_id, at=at, idle_days=idle_days)
    compiled = zone_selectors.geofence_for_city(city_id)
    zones = {str(z.id): z for z in Zone.objects.filter(city_id=city_id, active=True)  # not the geometries: the
             .only("id", "name", "kind", "vehicle_cap").prefetch_related("vehicle_types")}  # geofence has them
    report.has_operating_area = any(z.kind == ZoneKind.OPERATING_AREA for z in zones.values())
    # Codes, not ids: a string costs the client a fraction of a UUID object, at 100k rows a third of the time.
    rows = list(Vehicle.objects.filter(
        city_id=city_id, status__in=PARKED_STATUSES, lat__isnull=False, lon__isnull=False,
    ).values_list("code", "lon", "lat", "vehicle_type__code"))
    codes = [row[0] for row in rows]
    lons = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))  # not null: filtered
    lats = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
    types = [row[3] for row in rows]
    report.parked = len(codes)
    verdicts = compiled.evaluate_batch(lons, lats, types, at) if codes else []
    misparked: dict[str, str] = {}  # vehicle code -> zone id
    outside: list[str] = []
    inside: Counter[str] = Counter()
    capped = {zid: z for zid, z in zones.items() if z.vehicle_cap is not None}
    capped_types = {zid: {t.code for t in z.vehicle_types.all()} for zid, z in capped.items()}
    for code, type_code, verdict in zip(codes, types, verdicts, strict=True):
        if not verdict.ride_end_allowed:
            if verdict.zone_id is None:
                outside.append(code)
            elif verdict.zone_id in zones:  # (a zone saved this very second may not be compiled yet)
                misparked[code] = verdict.zone_id
        for zone_id in verdict.zone_ids:
            if zone_id in capped and (not capped_types[zone_id] or type_code in capped_types[zone_id]):
                inside[zone_id] += 1
    report.misparked_total, report.outside_area_total = len(misparked), len(outside)
    shown = list(misparked)[:rows_max] + outside[:rows_max]
    details = _rows(Vehicle.objects.filter(code__in=shown))
    report.misparked = [_in_zone(details[v], zones[misparked[v]]) for v in list(misparked)[:rows_max] if v in details]
    report.outside_area = [details[v] for v in outside[:rows_max] if v in details]
    report.misparked.sort(key=lambda row: (row.zone_name, row.code))
    report.outside_area.sort(key=lambda row: row.code)
    report.caps = sorted(
        (CapRow(z.id, z.name, z.kind, z.vehicle_cap, inside[zid]) for zid, z in capped.items()
         if z.vehicle_cap is not None),
        key=lambda row: (-row.over, row.name),
    )
    _idle(report, rows_max)
    return report


@dataclass(frozen=True, slots=True)
class Misparked:
    city_id: uuid.UUID
    zone_name: str
    zone_kind: str


def vehicles_misparked(*, statuses: Sequence[str], at: datetime | None = None) -> dict[uuid.UUID, Misparked]:
    """Vehicles in ``statuses`` without a trip, standing inside a zone where no ride may end (no-parking, no-ride,
    a must-park area outside its spots), over every city: the same verdicts as the compliance page (vehicles
    outside the operating area are not here: their alert says so). One position query per city, the city's
    compiled geofence answers for all its vehicles at once."""
    at = at or timezone.now()
    found: dict[uuid.UUID, Misparked] = {}
    for city_id in City.objects.values_list("id", flat=True):
        rows = list(Vehicle.objects.filter(
            city_id=city_id, status__in=statuses, trip_id__isnull=True, lat__isnull=False, lon__isnull=False,
        ).values_list("id", "lon", "lat", "vehicle_type__code"))
        if not rows:
            continue
        compiled = zone_selectors.geofence_for_city(city_id)
        lons = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
        lats = np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows))
        verdicts = compiled.evaluate_batch(lons, lats, [row[3] for row in rows], at)
        inside = {row[0]: verdict.zone_id for row, verdict in zip(rows, verdicts, strict=True)
                  if not verdict.ride_end_allowed and verdict.zone_id is not None}
        zones = {str(z[0]): z[1:] for z in Zone.objects.filter(id__in=set(inside.values())).values_list(
            "id", "name", "kind")}
        found.update({vehicle_id: Misparked(city_id, *zones[zone_id]) for vehicle_id, zone_id in inside.items()
                      if zone_id in zones})
    return found


def _idle(report: ComplianceReport, rows_max: int) -> None:
    idle = (Vehicle.objects.filter(city_id=report.city_id, status__in=PARKED_STATUSES)
            .annotate(since=Coalesce("last_event_at", "created_at"))
            .filter(since__lt=report.at - timedelta(days=report.idle_days)))
    # The total rides along on every row (a window count): one scan of the city's vehicles, not a second for COUNT.
    rows = list(idle.annotate(total=Window(Count("id"))).order_by(F("since").asc(), "code").values_list(
        "id", "code", "status", "vehicle_type__code", "lat", "lon", "since", "total")[:rows_max])
    report.idle_total = rows[0][-1] if rows else 0
    report.idle = [VehicleRow(*row[:-1]) for row in rows]


def _rows(vehicles: QuerySet[Vehicle]) -> dict[str, VehicleRow]:
    """By vehicle code, in the queryset's order."""
    rows = vehicles.values_list("id", "code", "status", "vehicle_type__code", "lat", "lon",
                                Coalesce("last_event_at", "created_at"))
    return {row[1]: VehicleRow(*row) for row in rows}


def _in_zone(row: VehicleRow, zone: Zone) -> VehicleRow:
    return VehicleRow(row.id, row.code, row.status, row.vehicle_type, row.lat, row.lon, row.since,
                      zone.id, zone.name, zone.kind)
