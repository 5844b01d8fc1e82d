"""GBFS precedence: rule order, zone order, type filters, zones over global rules, schedules, must-park areas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fleet.geofence import CompiledZones, Rule, Verdict, ZoneKind, kind_default_rule
from tests.fleet.test_geofence_helpers import ALLOW, NO_END, NO_RIDE, only, square, zone

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CENTRE = (13.40, 52.52)
BIG, SMALL = square(*CENTRE, 0.05), square(*CENTRE, 0.01)


def verdict_at_centre(
    zones: CompiledZones, vehicle_type_id: str | None = "scooter", at: datetime = AT
) -> Verdict:
    return zones.evaluate(*CENTRE, vehicle_type_id, at)


def test_nothing_anywhere_means_everything_allowed_without_limit() -> None:
    assert verdict_at_centre(CompiledZones([])) == Verdict()
    assert verdict_at_centre(CompiledZones([zone("far", square(0, 0, 1), NO_RIDE)])) == Verdict()


def test_within_a_zone_the_first_rule_for_the_type_wins() -> None:
    zones = CompiledZones([zone("z", SMALL, Rule(maximum_speed_kph=10), Rule(maximum_speed_kph=25))])
    assert verdict_at_centre(zones).maximum_speed_kph == 10
    swapped = CompiledZones([zone("z", SMALL, Rule(maximum_speed_kph=25), Rule(maximum_speed_kph=10))])
    assert verdict_at_centre(swapped).maximum_speed_kph == 25


def test_a_rule_for_other_types_is_skipped() -> None:
    zones = CompiledZones([zone("z", SMALL, only("bike", maximum_speed_kph=12), Rule(maximum_speed_kph=20))])
    assert verdict_at_centre(zones, "bike").maximum_speed_kph == 12
    assert verdict_at_centre(zones, "scooter").maximum_speed_kph == 20
    assert verdict_at_centre(zones, None).maximum_speed_kph == 20  # unknown type: only untyped rules apply


def test_among_overlapping_zones_the_earlier_wins_and_all_are_listed() -> None:
    slow = zone("slow", BIG, Rule(maximum_speed_kph=15), kind=ZoneKind.SLOW)
    no_park = zone("no-park", SMALL, NO_END, kind=ZoneKind.NO_PARKING)
    first_no_park = verdict_at_centre(CompiledZones([no_park, slow]))
    assert (first_no_park.zone_id, first_no_park.ride_end_allowed, first_no_park.maximum_speed_kph) == (
        "no-park",
        False,
        None,  # the whole rule of the winning zone applies: no field-by-field merge
    )
    assert first_no_park.zone_ids == ("no-park", "slow")
    first_slow = verdict_at_centre(CompiledZones([slow, no_park]))
    assert (first_slow.zone_id, first_slow.ride_end_allowed, first_slow.maximum_speed_kph) == (
        "slow",
        True,
        15,
    )
    assert first_slow.zone_ids == ("slow", "no-park")


def test_a_zone_without_a_rule_for_the_type_falls_through() -> None:
    zones = CompiledZones(
        [zone("bikes-only", SMALL, only("bike", ride_end_allowed=False)), zone("area", BIG, ALLOW)],
        global_rules=[NO_END],
    )
    scooter = verdict_at_centre(zones, "scooter")
    assert (scooter.zone_id, scooter.ride_end_allowed, scooter.zone_ids) == (
        "area",
        True,
        ("bikes-only", "area"),
    )
    assert verdict_at_centre(zones, "bike").zone_id == "bikes-only"
    no_rules = CompiledZones([zone("label", SMALL), zone("area", BIG, NO_END)])
    assert verdict_at_centre(no_rules).zone_id == "area"


def test_zones_beat_global_rules_and_global_rules_follow_their_own_order() -> None:
    global_rules = [only("bike", maximum_speed_kph=18), Rule(ride_end_allowed=False, maximum_speed_kph=22)]
    zones = CompiledZones([zone("area", SMALL, ALLOW)], global_rules=global_rules)
    assert verdict_at_centre(zones) == Verdict(zone_id="area", zone_ids=("area",))
    outside = (13.50, 52.52)
    assert zones.evaluate(*outside, "scooter", AT) == Verdict(ride_end_allowed=False, maximum_speed_kph=22)
    assert zones.evaluate(*outside, "bike", AT) == Verdict(maximum_speed_kph=18)


def test_global_rules_for_other_types_only_leave_the_defaults() -> None:
    zones = CompiledZones([], global_rules=[only("bike", ride_start_allowed=False)])
    assert verdict_at_centre(zones, "scooter") == Verdict()
    assert not verdict_at_centre(zones, "bike").ride_start_allowed


def test_schedule_is_half_open_start_inclusive_end_exclusive() -> None:
    start, end = AT, AT + timedelta(hours=8)
    night = zone("night", SMALL, NO_RIDE, kind=ZoneKind.NO_RIDE, start=start, end=end)
    zones = CompiledZones([night, zone("area", BIG, ALLOW)])
    second = timedelta(microseconds=1)
    assert verdict_at_centre(zones, at=start - second).zone_ids == ("area",)
    assert verdict_at_centre(zones, at=start).zone_id == "night"
    assert not verdict_at_centre(zones, at=start).ride_through_allowed
    assert verdict_at_centre(zones, at=end - second).zone_id == "night"
    assert verdict_at_centre(zones, at=end) == Verdict(zone_id="area", zone_ids=("area",))


def test_open_ended_schedules() -> None:
    from_now = zone("from", SMALL, NO_END, start=AT)
    until_now = zone("until", BIG, Rule(maximum_speed_kph=9), end=AT)
    zones = CompiledZones([from_now, until_now])
    assert verdict_at_centre(zones, at=AT - timedelta(days=900)).zone_id == "until"
    assert verdict_at_centre(zones, at=AT + timedelta(days=900)).zone_id == "from"


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verdict_at_centre(CompiledZones([]), at=datetime(2026, 6, 1, 12))  # noqa: DTZ001
    with pytest.raises(ValueError, match="zone z: schedule start/end must be timezone-aware"):
        CompiledZones([zone("z", SMALL, start=datetime(2026, 6, 1))])  # noqa: DTZ001


def test_boundary_belongs_to_the_zone() -> None:
    zones = CompiledZones([zone("z", SMALL, NO_END)])
    [[corner, next_corner, *_]] = SMALL["coordinates"]
    edge = ((corner[0] + next_corner[0]) / 2, corner[1])
    assert zones.evaluate(corner[0], corner[1], "scooter", AT).zone_id == "z"
    assert zones.evaluate(edge[0], edge[1], "scooter", AT).zone_id == "z"
    assert zones.evaluate(corner[0], corner[1] - 1e-9, "scooter", AT).zone_id is None


def test_must_park_area_allows_ending_only_in_parking_spots_for_the_type() -> None:
    spot = zone("spot", square(13.40, 52.52, 0.0002), kind=ZoneKind.PARKING_MANDATORY)
    bike_spot = zone("bike-spot", square(13.41, 52.52, 0.0002), only("bike"), kind=ZoneKind.PARKING_MANDATORY)
    area = zone("must-park", BIG, kind_default_rule(ZoneKind.PARKING_MANDATORY), kind=ZoneKind.OPERATING_AREA)
    zones = CompiledZones([area, spot, bike_spot])  # the spots come later: being in one is what counts
    in_spot = zones.evaluate(13.40, 52.52, "scooter", AT)
    assert (in_spot.ride_end_allowed, in_spot.station_parking, in_spot.zone_id) == (True, True, "must-park")
    assert not zones.evaluate(13.405, 52.52, "scooter", AT).ride_end_allowed
    assert not zones.evaluate(13.41, 52.52, "scooter", AT).ride_end_allowed
    assert zones.evaluate(13.41, 52.52, "bike", AT).ride_end_allowed


def test_kind_default_rules() -> None:
    assert kind_default_rule(ZoneKind.NO_PARKING) == Rule(ride_end_allowed=False)
    assert kind_default_rule(ZoneKind.NO_RIDE) == NO_RIDE
    assert kind_default_rule(ZoneKind.SLOW, maximum_speed_kph=12) == Rule(maximum_speed_kph=12)
    assert kind_default_rule(ZoneKind.PARKING_MANDATORY) == Rule(station_parking=True)
    assert kind_default_rule(ZoneKind.OPERATING_AREA) == ALLOW
    with pytest.raises(ValueError, match="unknown zone kind 'lake'"):
        kind_default_rule("lake")


def test_zones_containing_lists_active_zones_in_order() -> None:
    night = zone("night", SMALL, NO_RIDE, start=AT + timedelta(hours=1))
    zones = CompiledZones([zone("a", SMALL), night, zone("b", BIG)])
    assert [z.id for z in zones.zones_containing(*CENTRE, AT)] == ["a", "b"]
    assert [z.id for z in zones.zones_containing(*CENTRE, AT + timedelta(hours=1))] == ["a", "night", "b"]
