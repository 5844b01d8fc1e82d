"""The geofence engine: which GBFS rules apply to a vehicle type at a point and a time.

Pure (no Django models, no database), so the Zone model, Celery/telemetry workers and ``python -m bench
geofence`` all use the same code. See docs/geofence.md for precedence and the zone kinds.

    zones = geofence.CompiledZones([ZoneSpec(...), ...], global_rules=[Rule(ride_end_allowed=False)])
    zones.evaluate(13.40, 52.52, "scooter", at)            -> Verdict
    zones.evaluate_batch(lons, lats, type_ids, at)          -> list[Verdict]
    zones.nearest_allowed_end(13.40, 52.52, "scooter", at)  -> (lon, lat, distance_m) | None
"""

from fleet.geofence.engine import DEFAULT_RULE, CompiledZones
from fleet.geofence.parking import allowed_end_region, haversine_m
from fleet.geofence.rules import Rule, Transition, Verdict, ZoneKind, ZoneSpec, kind_default_rule, transition

__all__ = [
    "DEFAULT_RULE",
    "CompiledZones",
    "Rule",
    "Transition",
    "Verdict",
    "ZoneKind",
    "ZoneSpec",
    "allowed_end_region",
    "haversine_m",
    "kind_default_rule",
    "transition",
]
