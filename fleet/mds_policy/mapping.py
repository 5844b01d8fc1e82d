"""MDS Policy + Geography -> a plan for a city's zones. Pure: no database, no clock (``now`` is passed in).

One zone per (policy, rule, geography) that Freewheel can enforce:

- ``count`` rule, ``maximum: 0``: a ``no_ride`` zone when it counts vehicles ``on_trip`` (no vehicle may be
  there at all), a ``no_parking`` zone when it counts parked vehicles (``available`` / ``non_operational`` /
  ``reserved``, all events or only ``trip_end``);
- ``count`` rule, ``maximum > 0``: a ``cap`` zone with ``vehicle_cap`` (compliance figure for ops, not enforced at
  trip end);
- ``speed`` rule with a ``maximum``: a ``slow`` zone (mph converted down to whole km/h).

Everything else is listed in ``Plan.not_enforced`` with the reason, never dropped: ``time`` and ``user`` rules,
rates (fees/subsidies), count minimums, daily/weekly schedules (zones only have one start and end), state/event
filters zones cannot express, vehicle types Freewheel does not run, geographies without a polygon, rider
messages, ``value_url``. See docs/fleet.md "Importing a city's MDS Policy".
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from fleet import geojson
from fleet.mds_policy.documents import Documents, PolicyDocumentInvalid

PRIORITY_BASE = 10  # imported zones come before hand-made ones (priority 100) where they overlap
PARKED = frozenset({"available", "non_operational", "reserved"})
ALL_DAYS = frozenset({"sun", "mon", "tue", "wed", "thu", "fri", "sat"})
KPH_PER_MPH = 1.609344
NAME_MAX = 120


@dataclass(frozen=True)
class VehicleTypeInfo:
    code: str
    form_factor: str
    propulsion_type: str


@dataclass(frozen=True)
class Source:
    policy_id: str
    rule_id: str
    geography_id: str


@dataclass(frozen=True)
class ZoneFields:
    """What an imported zone holds (the comparable part of a ``fleet.models.Zone``)."""

    name: str
    kind: str
    priority: int
    geometry: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    vehicle_types: tuple[str, ...]  # vehicle type codes, sorted; empty = every type
    ride_start_allowed: bool
    ride_end_allowed: bool
    ride_through_allowed: bool
    maximum_speed_kph: int | None
    vehicle_cap: int | None
    active: bool = True

    def differs_from(self, other: ZoneFields) -> tuple[str, ...]:
        mine, theirs = asdict(self), asdict(other)
        return tuple(name for name in mine if mine[name] != theirs[name])


@dataclass(frozen=True)
class ExistingZone:
    """A zone an earlier import made, as the plan sees it."""

    id: str
    source: Source
    fields: ZoneFields


@dataclass(frozen=True)
class Change:
    action: str  # create | update | deactivate | unchanged
    source: Source
    rule_name: str
    fields: ZoneFields  # the zone after the change (for deactivate: as it is, with active False)
    zone_id: str | None = None
    changed: tuple[str, ...] = ()
    was: ZoneFields | None = None


@dataclass(frozen=True)
class NotEnforced:
    policy_id: str
    policy_name: str
    rule_id: str | None
    rule_name: str | None
    what: str
    why: str


@dataclass(frozen=True)
class PolicyInfo:
    policy_id: str
    name: str
    published_at: datetime
    prev_policies: tuple[str, ...]


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    not_enforced: list[NotEnforced] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    policies: list[PolicyInfo] = field(default_factory=list)  # the policies imported (not the superseded ones)

    def of(self, action: str) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    @property
    def has_changes(self) -> bool:
        return any(c.action != "unchanged" for c in self.changes)

    def digest(self) -> str:
        """A fingerprint of what applying would do: the admin's confirm step refuses a plan that moved since."""
        body = [(c.action, asdict(c.source), c.zone_id, asdict(c.fields)) for c in self.changes]
        return hashlib.sha256(json.dumps(body, default=str, sort_keys=True).encode()).hexdigest()[:32]

    def summary(self) -> str:
        counts = {a: len(self.of(a)) for a in ("create", "update", "deactivate", "unchanged")}
        return (f"{counts['create']} to create, {counts['update']} to update, {counts['deactivate']} to deactivate, "
                f"{counts['unchanged']} unchanged; {len(self.not_enforced)} rule part(s) not enforced")

    def lines(self) -> list[str]:
        """The plan as text (``import_mds_policy`` prints it)."""
        out = [self.summary()]
        for action in ("create", "update", "deactivate"):
            for c in self.of(action):
                what = describe_zone(c.fields)
                extra = f" ({', '.join(c.changed)})" if c.changed else ""
                out.append(f"  {action:10} {c.fields.name}: {what}{extra}  [rule {c.source.rule_id}]")
        if self.not_enforced:
            out.append("Not enforced:")
            out += [f"  - {n.rule_name or n.policy_name}: {n.what}: {n.why}" for n in self.not_enforced]
        out += [f"Note: {note}" for note in self.notes]
        return out


def describe_zone(f: ZoneFields) -> str:
    parts = [f.kind]
    if f.maximum_speed_kph is not None:
        parts.append(f"max {f.maximum_speed_kph} km/h")
    if f.vehicle_cap is not None:
        parts.append(f"cap {f.vehicle_cap} vehicles")
    parts.append(f"types {', '.join(f.vehicle_types)}" if f.vehicle_types else "all types")
    if f.starts_at:
        parts.append(f"from {_iso(f.starts_at)}")
    if f.ends_at:
        parts.append(f"until {_iso(f.ends_at)}")
    return ", ".join(parts)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else None


def _ms(value: object) -> datetime | None:
    return datetime.fromtimestamp(float(value) / 1000, tz=UTC) if value is not None else None  # type: ignore[arg-type]


# -- rules ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Template:
    kind: str
    flags: tuple[bool, bool, bool]  # ride start, end, through allowed
    maximum_speed_kph: int | None = None
    vehicle_cap: int | None = None


_FLAGS = {"no_ride": (False, False, False), "no_parking": (True, False, True), "slow": (True, True, True),
          "cap": (True, True, True)}


class _Skip(Exception):
    """The whole rule cannot be enforced: ``what`` and ``why`` go to the not-enforced list."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(why)
        self.what, self.why = what, why


def _schedule(rule: dict[str, Any]) -> None:
    days = rule.get("days")
    start, end = rule.get("start_time") or "00:00:00", rule.get("end_time") or "23:59:59"
    if (days and set(days) != ALL_DAYS) or start != "00:00:00" or end != "23:59:59":
        when = (", ".join(days) if days and set(days) != ALL_DAYS else "every day") + f" {start}-{end}"
        raise _Skip(f"schedule ({when})", "a zone has one start and one end, not a daily or weekly schedule, so "
                                          "the rule is not imported (a zone made by hand would apply at all hours)")


def _count(rule: dict[str, Any], notes: list[tuple[str, str]]) -> _Template:
    states: dict[str, Any] = rule["states"]
    maximum = rule.get("maximum")
    if (rule.get("minimum") or 0) > 0:
        notes.append((f"minimum {rule['minimum']} devices", "Freewheel does not deploy vehicles to meet a minimum"))
    if maximum is None:
        raise _Skip("count without a maximum", "nothing to restrict")
    if maximum > 0:
        cap = maximum if rule.get("inclusive_maximum", True) is not False else maximum - 1
        counted = set(states)
        if counted != PARKED or any(states.values()):
            notes.append((f"counted states {sorted(counted)}",
                          "the cap is compared with vehicles parked in the zone (available, non_operational, reserved)"))
        return _Template("cap", _FLAGS["cap"], vehicle_cap=cap)
    if "on_trip" in states and not states["on_trip"]:
        return _Template("no_ride", _FLAGS["no_ride"])
    parked = {s: ev for s, ev in states.items() if s in PARKED}
    others = sorted(set(states) - set(parked))
    events = {e for ev in parked.values() for e in (ev or [])}
    if not parked or events - {"trip_end"}:
        raise _Skip(f"maximum 0 in states {_states(states)}",
                    "zones forbid riding or ending rides there; they cannot restrict these states or events "
                    "(operator drop-offs, removals...)")
    if others:
        notes.append((f"states {others}", "zones cannot restrict them; the zone forbids ending rides only"))
    return _Template("no_parking", _FLAGS["no_parking"])


def _states(states: dict[str, Any]) -> str:
    return ", ".join(f"{s}{'[' + ', '.join(e) + ']' if e else ''}" for s, e in states.items())


def _speed(rule: dict[str, Any], notes: list[tuple[str, str]]) -> _Template:
    maximum = rule.get("maximum")
    if rule.get("minimum"):
        notes.append((f"minimum speed {rule['minimum']} {rule['rule_units']}", "vehicles cannot enforce a minimum"))
    if maximum is None:
        raise _Skip("speed rule without a maximum", "nothing to limit")
    if "on_trip" not in rule["states"]:
        raise _Skip(f"speed in states {_states(rule['states'])}", "a speed limit applies to vehicles on a trip")
    kph = maximum * KPH_PER_MPH if rule["rule_units"] == "mph" else float(maximum)
    exclusive = rule.get("inclusive_maximum", True) is False
    limit = math.ceil(kph) - 1 if exclusive else math.floor(kph + 1e-9)
    if limit < 0:
        raise _Skip(f"speed maximum {maximum}", "not a usable speed limit")
    return _Template("slow", _FLAGS["slow"], maximum_speed_kph=limit)


def _rule_template(rule: dict[str, Any], notes: list[tuple[str, str]]) -> _Template:
    kind = rule["rule_type"]
    if rule.get("rate_amount") not in (None, 0):
        what = f"rate {rule['rate_amount']} ({rule.get('rate_recurrence') or 'once'}, " \
               f"{rule.get('rate_applies_when') or 'out_of_bounds'})"
        raise _Skip(what, "a fee or subsidy the city charges; Freewheel does not bill city rates, and its "
                          "bounds describe when the rate applies, not a prohibition")
    if kind == "time":
        raise _Skip(f"time limit {rule.get('minimum') or 0}-{rule.get('maximum', 'unlimited')} {rule['rule_units']} "
                    f"in {_states(rule['states'])}", "zones do not track how long vehicles stay in a state")
    if kind == "user":
        raise _Skip("information for riders", "user rules cannot be enforced through zones")
    _schedule(rule)
    return _count(rule, notes) if kind == "count" else _speed(rule, notes)


def _types(rule: dict[str, Any], catalog: Sequence[VehicleTypeInfo]) -> tuple[str, ...]:
    forms, props = rule.get("vehicle_types") or [], rule.get("propulsion_types") or []
    if not forms and not props:
        return ()
    codes = tuple(sorted(t.code for t in catalog if (not forms or t.form_factor in forms)
                         and (not props or t.propulsion_type in props)))
    if not codes:
        raise _Skip(f"vehicle types {forms + props}", "no Freewheel vehicle type matches")
    return codes


# -- geographies ---------------------------------------------------------------------------------------------


def geography_polygons(geography: dict[str, Any]) -> dict[str, Any] | None:
    """The polygons of a geography as one normalised MultiPolygon; None when it has none (points, lines)."""
    polygons: list[Any] = []
    for feature in geography["geography_json"]["features"]:
        geometry = feature.get("geometry") or {}
        parts = geometry.get("geometries", [geometry]) if geometry.get("type") == "GeometryCollection" else [geometry]
        for part in parts:
            if part.get("type") == "Polygon":
                polygons.append(part["coordinates"])
            elif part.get("type") == "MultiPolygon":
                polygons.extend(part["coordinates"])
    if not polygons:
        return None
    try:
        return geojson.validate_multipolygon({"type": "MultiPolygon", "coordinates": polygons})
    except geojson.GeometryInvalid as exc:
        raise PolicyDocumentInvalid(f"geography {geography['geography_id']} ({geography['name']}): "
                                    f"{exc.detail_message}", geography=geography["geography_id"]) from exc


# -- the plan ------------------------------------------------------------------------------------------------


@dataclass
class _Context:
    documents: Documents
    catalog: Sequence[VehicleTypeInfo]
    now: datetime
    plan: Plan = field(default_factory=Plan)
    shapes: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def skip(self, policy: dict[str, Any], rule: dict[str, Any] | None, what: str, why: str) -> None:
        self.plan.not_enforced.append(NotEnforced(policy["policy_id"], policy["name"],
                                                  rule["rule_id"] if rule else None, rule["name"] if rule else None,
                                                  what, why))

    def shape(self, geography_id: str) -> dict[str, Any] | None:
        if geography_id not in self.shapes:
            self.shapes[geography_id] = geography_polygons(self.documents.geographies[geography_id])
        return self.shapes[geography_id]


def _window(ctx: _Context, policy: dict[str, Any], geography: dict[str, Any]) -> tuple[datetime | None, ...]:
    starts = [d for d in (_ms(policy["start_date"]), _ms(geography.get("effective_date"))) if d]
    ends = [d for d in (_ms(policy.get("end_date")), _ms(geography.get("retire_date")),
                        _ms(ctx.documents.end_date)) if d]
    return (max(starts) if starts else None), (min(ends) if ends else None)


def _policy_zones(ctx: _Context, policy: dict[str, Any]) -> dict[Source, tuple[str, ZoneFields]]:
    wanted: dict[Source, tuple[str, ZoneFields]] = {}
    if policy["mode_id"] != "micromobility":
        ctx.skip(policy, None, f"mode {policy['mode_id']}", "Freewheel runs micromobility only")
        return wanted
    if policy.get("provider_ids"):
        ctx.plan.notes.append(f"Policy {policy['name']!r} names providers {', '.join(policy['provider_ids'])}; "
                              "it is imported as applying to this operator.")
    for index, rule in enumerate(policy["rules"]):
        notes: list[tuple[str, str]] = []
        try:
            template = _rule_template(rule, notes)
            types = _types(rule, ctx.catalog)
        except _Skip as skip:
            ctx.skip(policy, rule, skip.what, skip.why)
            continue
        for what, why in notes:
            ctx.skip(policy, rule, what, why)
        if rule.get("messages"):
            ctx.skip(policy, rule, f"rider messages ({', '.join(rule['messages'])})", "not shown to riders")
        if rule.get("value_url"):
            ctx.skip(policy, rule, f"value_url {rule['value_url']}", "dynamic values are not fetched; the "
                                                                     "document's maximum is used")
        for geography_id in rule["geographies"]:
            geography = ctx.documents.geographies[geography_id]
            geometry = ctx.shape(geography_id)
            if geometry is None:
                ctx.skip(policy, rule, f"geography {geography['name']}", "it has no polygon (points or lines)")
                continue
            starts_at, ends_at = _window(ctx, policy, geography)
            if ends_at is not None and (ends_at <= ctx.now or (starts_at and ends_at <= starts_at)):
                continue  # over: an earlier import's zone, if any, is deactivated
            flags = template.flags
            wanted[Source(policy["policy_id"], rule["rule_id"], geography_id)] = (rule["name"], ZoneFields(
                name=f"{rule['name']} · {geography['name']}"[:NAME_MAX], kind=template.kind,
                priority=PRIORITY_BASE + index, geometry=geometry, starts_at=starts_at, ends_at=ends_at,
                vehicle_types=types, ride_start_allowed=flags[0], ride_end_allowed=flags[1],
                ride_through_allowed=flags[2], maximum_speed_kph=template.maximum_speed_kph,
                vehicle_cap=template.vehicle_cap,
            ))
    return wanted


def _replaced_geographies(documents: Documents) -> dict[str, set[str]]:
    """geography id -> the ids it replaces (``prev_geographies``, transitively)."""
    direct = {gid: set(g.get("prev_geographies") or []) for gid, g in documents.geographies.items()}
    out: dict[str, set[str]] = {}
    for gid in direct:
        seen, todo = set(), list(direct[gid])
        while todo:
            prev = todo.pop()
            if prev not in seen:
                seen.add(prev)
                todo.extend(direct.get(prev, ()))
        out[gid] = seen
    return out


def build_plan(
    *, documents: Documents, existing: Iterable[ExistingZone], catalog: Sequence[VehicleTypeInfo], now: datetime,
    superseded_by: Mapping[str, str] | None = None,
) -> Plan:
    """What importing ``documents`` does to the zones earlier imports made (``existing``).

    A policy listed in another's ``prev_policies`` is superseded: its zones are updated in place when the newer
    policy has a rule with the same ``rule_id`` on the same geography (or one replacing it through
    ``prev_geographies``), and deactivated otherwise. ``superseded_by`` (policy id -> name of the imported policy
    that replaced it) keeps an older document imported later from coming back. Zones of policies the documents
    do not mention are left alone.
    """
    ctx = _Context(documents, catalog, now)
    superseded = {prev for p in documents.policies for prev in (p.get("prev_policies") or [])}
    earlier = superseded_by or {}
    live = [p for p in documents.policies if p["policy_id"] not in superseded | set(earlier)]
    for p in documents.policies:
        if p["policy_id"] in superseded:
            ctx.plan.notes.append(f"Policy {p['name']!r} ({p['policy_id']}) is replaced by a newer one in the "
                                  "documents; only the newer one is imported.")
        elif p["policy_id"] in earlier:
            ctx.plan.notes.append(f"Policy {p['name']!r} ({p['policy_id']}) was replaced by {earlier[p['policy_id']]!r}"
                                  ", imported earlier; it is not imported again.")
    ctx.plan.policies = [PolicyInfo(p["policy_id"], p["name"], _ms(p["published_date"]) or now,
                                    tuple(p.get("prev_policies") or [])) for p in live]
    wanted: dict[Source, tuple[str, ZoneFields]] = {}
    for policy in live:
        if policy.get("end_date") is not None and _ms(policy["end_date"]) <= now:  # type: ignore[operator]
            ctx.plan.notes.append(f"Policy {policy['name']!r} ended on {_iso(_ms(policy['end_date']))}; "
                                  "its zones are deactivated.")
        wanted |= _policy_zones(ctx, policy)
    concerned = {p["policy_id"] for p in documents.policies} | superseded | set(earlier)
    mine = {z.source: z for z in existing if z.source.policy_id in concerned}
    replaces = _replaced_geographies(documents)
    prev_of = {p["policy_id"]: set(p.get("prev_policies") or []) for p in live}
    taken: set[Source] = set()
    for source, (rule_name, fields) in wanted.items():
        zone = mine.get(source) or _predecessor(source, mine, taken, prev_of, replaces)
        if zone is None:
            ctx.plan.changes.append(Change("create", source, rule_name, fields))
            continue
        taken.add(zone.source)
        changed = zone.fields.differs_from(fields) + (("source",) if zone.source != source else ())
        ctx.plan.changes.append(Change("update" if changed else "unchanged", source, rule_name, fields, zone.id,
                                       changed, zone.fields))
    for source, zone in mine.items():
        if source not in taken and source not in wanted and zone.fields.active:
            ctx.plan.changes.append(Change("deactivate", source, "(no longer in force)",
                                           replace(zone.fields, active=False), zone.id, ("active",), zone.fields))
    return ctx.plan


def _predecessor(source: Source, mine: dict[Source, ExistingZone], taken: set[Source],
                 prev_of: dict[str, set[str]], replaces: dict[str, set[str]]) -> ExistingZone | None:
    geos = {source.geography_id} | replaces.get(source.geography_id, set())
    for old, zone in mine.items():
        if (old not in taken and old.policy_id in prev_of.get(source.policy_id, ()) and old.rule_id == source.rule_id
                and old.geography_id in geos):
            return zone
    return None
