"""Zone writes: create, import a GeoJSON FeatureCollection, and tell every process that a city's zones changed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.dateparse import parse_datetime

from core import audit
from core.errors import DomainError
from fleet import geojson
from fleet.models import City, VehicleType, Zone, ZoneKind
from fleet.models.zones import KIND_DEFAULTS
from fleet.selectors import (
    zones as zone_selectors,  # the selector owns the per-process cache and its version key
)

_RULE_FLAGS = ("ride_start_allowed", "ride_end_allowed", "ride_through_allowed", "maximum_speed_kph",
               "station_parking")


class ZoneImportInvalid(DomainError):
    code, status, message = "zone_import_invalid", 400, "The zone file is invalid."


def zones_changed(city_id: uuid.UUID) -> None:
    """Bump the city's zone version in Redis after commit; geofence caches recompile on their next check."""

    def bump() -> None:
        cache.set(f"{zone_selectors.VERSION_PREFIX}{city_id}", uuid.uuid4().hex, None)
        zone_selectors.forget_city(city_id)

    transaction.on_commit(bump)


def _rule_fields(kind: str, rules: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(KIND_DEFAULTS[kind])
    fields.update({name: rules[name] for name in _RULE_FLAGS if rules.get(name) is not None})
    return fields


@transaction.atomic
def zone_create(
    *, city: City, name: str, kind: str, geometry: object, priority: int = 100, starts_at: datetime | None = None,
    ends_at: datetime | None = None, vehicle_types: Sequence[VehicleType] = (), rules: Mapping[str, Any] | None = None,
) -> Zone:
    """Create a zone; the geometry is validated and normalised (``GeometryInvalid``, 400, says what is wrong).
    Rule flags not given in ``rules`` take the defaults of the zone's kind."""
    if kind not in ZoneKind.values:
        raise ZoneImportInvalid(f"Unknown zone kind {kind!r}; expected one of {', '.join(ZoneKind.values)}.")
    fields = _rule_fields(kind, rules or {})
    if kind == ZoneKind.SLOW and fields.get("maximum_speed_kph") is None:
        raise ZoneImportInvalid("A slow zone needs maximum_speed_kph.")
    if starts_at and ends_at and ends_at <= starts_at:
        raise ZoneImportInvalid("The zone ends before it starts.")
    zone = Zone.objects.create(
        city=city, name=name, kind=kind, geometry=geojson.validate_multipolygon(geometry), priority=priority,
        starts_at=starts_at, ends_at=ends_at, **fields,
    )
    if vehicle_types:
        zone.vehicle_types.set(vehicle_types)
    return zone


def _name(properties: Mapping[str, Any], index: int) -> str:
    name = properties.get("name")
    if isinstance(name, list) and name and isinstance(name[0], dict):  # GBFS localised [{"text", "language"}]
        name = name[0].get("text")
    return str(name) if name else f"Zone {index + 1}"


def _when(properties: Mapping[str, Any], key: str, index: int) -> datetime | None:
    raw = properties.get(key)
    if raw is None:
        return None
    parsed = parse_datetime(str(raw))
    if parsed is None or parsed.tzinfo is None:
        raise ZoneImportInvalid(f"feature {index}: {key} must be an RFC 3339 date-time with offset", feature=index)
    return parsed


def _types(codes: object, index: int) -> list[VehicleType]:
    if codes is None:
        return []
    wanted = {str(code) for code in codes} if isinstance(codes, list) else set()
    found = list(VehicleType.objects.filter(code__in=wanted))
    if not wanted or len(found) != len(wanted):
        missing = sorted(wanted - {t.code for t in found})
        raise ZoneImportInvalid(f"feature {index}: unknown vehicle_type_ids {missing}", feature=index)
    return found


def _feature_zone(city: City, feature: object, index: int) -> Zone:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ZoneImportInvalid(f"feature {index}: not a GeoJSON Feature", feature=index)
    props = feature.get("properties") or {}
    gbfs_rules = props.get("rules") or [{}]
    rule = gbfs_rules[0] if isinstance(gbfs_rules, list) and isinstance(gbfs_rules[0], dict) else {}
    try:
        return zone_create(
            city=city, name=_name(props, index), kind=str(props.get("kind", "")), geometry=feature.get("geometry"),
            priority=int(props.get("priority", index)), starts_at=_when(props, "start", index),
            ends_at=_when(props, "end", index), vehicle_types=_types(rule.get("vehicle_type_ids"), index),
            rules={**props, **rule},
        )
    except DomainError as exc:
        raise type(exc)(f"feature {index}: {exc.detail_message}", **{**exc.details, "feature": index}) from exc


@transaction.atomic
def zones_import(*, city: City, collection: object, replace: bool = False, actor: Any = None) -> list[Zone]:
    """Create a zone per Feature of a GeoJSON FeatureCollection; all or nothing.

    Feature properties: ``kind`` (required), ``name`` (string or GBFS localised array), ``priority`` (default:
    position in the file), ``start``/``end`` (RFC 3339), rule flags either flat or as a GBFS ``rules`` array
    (the first rule is used; its ``vehicle_type_ids`` are vehicle type codes). ``replace`` deletes the city's
    existing zones first.
    """
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ZoneImportInvalid("The file must be a GeoJSON FeatureCollection.")
    features = collection.get("features")
    if not isinstance(features, list) or not features:
        raise ZoneImportInvalid("The FeatureCollection has no features.")
    deleted = Zone.objects.filter(city=city).delete()[0] if replace else 0
    zones = [_feature_zone(city, feature, index) for index, feature in enumerate(features)]
    audit.audit_staff_action(actor=actor, action="fleet.zones_import", obj=city,
                             after={"zones": [z.name for z in zones], "replaced": deleted})
    return zones
