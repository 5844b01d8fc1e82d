"""Rule <-> GBFS conversion, value checks, and zone/kind transitions for telemetry events."""

from __future__ import annotations

from typing import Any

import pytest

from fleet.geofence import CompiledZones, Rule, Transition, ZoneKind, transition
from tests.fleet.test_geofence_helpers import ALLOW, square, zone


def test_gbfs_rule_round_trip_leaves_unset_fields_out() -> None:
    full: dict[str, Any] = {
        "vehicle_type_ids": ["bike", "scooter"],
        "ride_start_allowed": False,
        "ride_end_allowed": True,
        "ride_through_allowed": True,
        "maximum_speed_kph": 15,
        "station_parking": True,
    }
    rule = Rule.from_gbfs(full)
    assert rule == Rule(frozenset({"bike", "scooter"}), False, True, True, 15, True)
    assert rule.to_gbfs() == full
    minimal = {"ride_start_allowed": True, "ride_end_allowed": False, "ride_through_allowed": True}
    assert Rule.from_gbfs(minimal) == Rule(ride_end_allowed=False)
    assert Rule.from_gbfs(minimal).to_gbfs() == minimal


def test_gbfs_rule_requires_the_three_flags() -> None:
    with pytest.raises(KeyError):
        Rule.from_gbfs({"ride_start_allowed": True, "ride_end_allowed": True})


def test_rule_values_are_checked() -> None:
    with pytest.raises(ValueError, match="use None for a rule that applies to every type"):
        Rule(vehicle_type_ids=frozenset())
    with pytest.raises(ValueError, match="maximum_speed_kph must be >= 0"):
        Rule(maximum_speed_kph=-1)


def test_transition_lists_entered_and_exited_in_order() -> None:
    assert transition(["a", "b"], ["b", "c", "d"]) == Transition(entered=("c", "d"), exited=("a",))
    assert not transition(["a"], ["a"])
    assert transition([], ["a"])


def test_zone_and_kind_transitions() -> None:
    zones = CompiledZones(
        [
            zone("slow-1", square(0, 0, 1), ALLOW, kind=ZoneKind.SLOW),
            zone("slow-2", square(0, 0, 1), ALLOW, kind=ZoneKind.SLOW),
            zone("no-ride", square(0, 0, 1), ALLOW, kind=ZoneKind.NO_RIDE),
        ]
    )
    assert zones.zone_transitions(["slow-1"], ["slow-2", "no-ride"]) == Transition(
        ("slow-2", "no-ride"), ("slow-1",)
    )
    # Moving from one slow zone into another is not entering or leaving "slow"; unknown ids are ignored.
    assert zones.kind_transitions(["slow-1", "gone"], ["slow-2", "no-ride"]) == Transition(("no_ride",), ())
    assert zones.kind_transitions(["slow-2", "no-ride"], []) == Transition((), ("slow", "no_ride"))
