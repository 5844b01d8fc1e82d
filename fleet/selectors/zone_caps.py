"""Vehicle caps as compliance figures: how many vehicles are parked in each capped zone now."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import shapely

from fleet import states
from fleet.models import Vehicle, Zone
from fleet.states import Status

# Vehicles standing on the street: MDS available, non_operational or reserved (what a city's cap counts).
PARKED_STATUSES = tuple(s for s in Status.values if states.mds_state(s) in {"available", "non_operational", "reserved"})


def zone_vehicle_counts(*, zones: Sequence[Zone]) -> dict[uuid.UUID, int]:
    """Vehicles parked inside each zone that has a ``vehicle_cap`` (of the zone's vehicle types, if it names any).

    One query per city over the capped zones' bounding box; the point-in-polygon test runs in shapely. Pass zones
    with ``vehicle_types`` prefetched to avoid a query per zone."""
    by_city: dict[uuid.UUID, list[Zone]] = defaultdict(list)
    for zone in zones:
        if zone.vehicle_cap is not None:
            by_city[zone.city_id].append(zone)
    counts: dict[uuid.UUID, int] = {}
    for city_id, capped in by_city.items():
        shapes = [shapely.geometry.shape(z.geometry) for z in capped]
        minx, miny, maxx, maxy = shapely.total_bounds(shapes)
        rows = list(Vehicle.objects.filter(
            city_id=city_id, status__in=PARKED_STATUSES, lon__gte=minx, lon__lte=maxx, lat__gte=miny, lat__lte=maxy,
        ).values_list("lon", "lat", "vehicle_type__code"))
        lons = np.array([r[0] for r in rows], dtype=float)
        lats = np.array([r[1] for r in rows], dtype=float)
        codes = np.array([r[2] for r in rows], dtype=object)
        for zone, shape in zip(capped, shapes, strict=True):
            inside = shapely.contains_xy(shape, lons, lats) if rows else np.zeros(0, dtype=bool)
            types = [t.code for t in zone.vehicle_types.all()]
            if types and rows:
                inside &= np.isin(codes, types)
            counts[zone.id] = int(inside.sum())
    return counts
