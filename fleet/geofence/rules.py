"""The value types of the geofence engine: GBFS rules, zone specs, verdicts and zone kinds. Pure Python."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class ZoneKind:
    """What a zone is for. The kind labels a zone for people, maps and events; the rules decide."""

    OPERATING_AREA = "operating_area"  # where the service runs; rides usually may end only inside
    NO_PARKING = "no_parking"  # riding allowed, ending a ride is not
    NO_RIDE = "no_ride"  # no riding through, no start, no end
    SLOW = "slow"  # speed limited to maximum_speed_kph
    PARKING_MANDATORY = "parking_mandatory"  # a parking spot (a GBFS virtual station) in a must-park area
    PARKING_PREFERRED = "parking_preferred"  # a recommended parking spot; ending elsewhere is still allowed
    CAP = "cap"  # a counted area (vehicle cap for ops); has no rules, so it never changes a verdict

    ALL = (OPERATING_AREA, NO_PARKING, NO_RIDE, SLOW, PARKING_MANDATORY, PARKING_PREFERRED, CAP)
    PARKING = frozenset({PARKING_MANDATORY, PARKING_PREFERRED})


@dataclass(frozen=True, slots=True)
class Rule:
    """One GBFS ``Rule`` object. ``vehicle_type_ids=None`` means the rule applies to every vehicle type."""

    vehicle_type_ids: frozenset[str] | None = None
    ride_start_allowed: bool = True
    ride_end_allowed: bool = True
    ride_through_allowed: bool = True
    maximum_speed_kph: int | None = None
    station_parking: bool | None = None

    def __post_init__(self) -> None:
        if self.vehicle_type_ids is not None and not self.vehicle_type_ids:
            raise ValueError("vehicle_type_ids is empty: use None for a rule that applies to every type")
        if self.maximum_speed_kph is not None and self.maximum_speed_kph < 0:
            raise ValueError("maximum_speed_kph must be >= 0")

    def applies_to(self, vehicle_type_id: str | None) -> bool:
        return self.vehicle_type_ids is None or vehicle_type_id in self.vehicle_type_ids

    @classmethod
    def from_gbfs(cls, data: Mapping[str, Any]) -> Rule:
        """Build from a GBFS 3.0 rule object (``geofencing_zones.json`` ``rules[]`` / ``global_rules[]``)."""
        type_ids = data.get("vehicle_type_ids")
        return cls(
            vehicle_type_ids=frozenset(str(t) for t in type_ids) if type_ids is not None else None,
            ride_start_allowed=bool(data["ride_start_allowed"]),
            ride_end_allowed=bool(data["ride_end_allowed"]),
            ride_through_allowed=bool(data["ride_through_allowed"]),
            maximum_speed_kph=data.get("maximum_speed_kph"),
            station_parking=data.get("station_parking"),
        )

    def to_gbfs(self) -> dict[str, Any]:
        """The GBFS 3.0 rule object; optional fields are left out when unset."""
        out: dict[str, Any] = {}
        if self.vehicle_type_ids is not None:
            out["vehicle_type_ids"] = sorted(self.vehicle_type_ids)
        out |= {
            "ride_start_allowed": self.ride_start_allowed,
            "ride_end_allowed": self.ride_end_allowed,
            "ride_through_allowed": self.ride_through_allowed,
        }
        if self.maximum_speed_kph is not None:
            out["maximum_speed_kph"] = self.maximum_speed_kph
        if self.station_parking is not None:
            out["station_parking"] = self.station_parking
        return out


def kind_default_rule(kind: str, *, maximum_speed_kph: int | None = None) -> Rule:
    """The rule a zone of this kind has when ops set no flags (a starting point for forms and imports)."""
    if kind not in ZoneKind.ALL:
        raise ValueError(f"unknown zone kind {kind!r}; expected one of {', '.join(ZoneKind.ALL)}")
    if kind == ZoneKind.NO_PARKING:
        return Rule(ride_end_allowed=False)
    if kind == ZoneKind.NO_RIDE:
        return Rule(ride_start_allowed=False, ride_end_allowed=False, ride_through_allowed=False)
    if kind == ZoneKind.SLOW:
        return Rule(maximum_speed_kph=maximum_speed_kph)
    if kind == ZoneKind.PARKING_MANDATORY:
        return Rule(station_parking=True)
    return Rule(maximum_speed_kph=maximum_speed_kph)


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """A zone as the engine sees it. ``geometry`` is a GeoJSON (Multi)Polygon, see ``fleet.geojson``.

    The schedule is half-open: active when ``start <= at < end``; ``None`` leaves that side open.
    Datetimes must be timezone-aware.
    """

    id: str
    name: str
    kind: str
    geometry: dict[str, Any]
    rules: tuple[Rule, ...] = ()
    start: datetime | None = None
    end: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What applies to a vehicle type at a point and time.

    ``zone_id`` is the zone whose rule applied (``None``: the city's global rules or the defaults);
    ``zone_ids`` are all active zones containing the point, in precedence order, whether or not they
    have a rule for this vehicle type (telemetry uses them for zone entry/exit events).
    """

    ride_start_allowed: bool = True
    ride_end_allowed: bool = True
    ride_through_allowed: bool = True
    maximum_speed_kph: int | None = None
    station_parking: bool | None = None
    zone_id: str | None = None
    zone_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Transition:
    """What changed between two consecutive positions: ids (or kinds) entered and exited, in order."""

    entered: tuple[str, ...]
    exited: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.entered or self.exited)


def transition(previous: Iterable[str], current: Iterable[str]) -> Transition:
    before, after = tuple(previous), tuple(current)
    before_set, after_set = set(before), set(after)
    return Transition(
        entered=tuple(dict.fromkeys(x for x in after if x not in before_set)),
        exited=tuple(dict.fromkeys(x for x in before if x not in after_set)),
    )


def timestamp(at: datetime | None) -> float:
    """POSIX seconds of an aware datetime; ``None`` is now."""
    if at is None:
        return datetime.now(UTC).timestamp()
    if at.tzinfo is None:
        raise ValueError("at must be a timezone-aware datetime")
    return at.timestamp()
