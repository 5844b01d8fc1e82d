"""nearest_allowed_end(): where the rider may end the ride instead, and how far it is."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely

from bench import _geofence_city as synthetic
from fleet.geofence import CompiledZones, Rule, ZoneKind, allowed_end_region, haversine_m, parking
from tests.fleet.test_geofence_helpers import ALLOW, NO_END, NO_RIDE, only, square, zone

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LON, LAT = 13.40, 52.52
METRES_PER_DEG_LAT = 111_195.0  # on the 6371.0088 km sphere


def assert_allowed_end(zones: CompiledZones, result: tuple[float, float, float] | None, type_id: str) -> None:
    assert result is not None
    lon, lat, _ = result
    assert zones.evaluate(lon, lat, type_id, AT).ride_end_allowed


def test_where_ending_is_allowed_the_answer_is_the_point_itself() -> None:
    zones = CompiledZones([zone("area", square(LON, LAT, 0.05), ALLOW)], global_rules=[NO_END])
    assert zones.nearest_allowed_end(LON, LAT, "scooter", AT) == (LON, LAT, 0.0)


def test_from_inside_a_no_parking_zone_the_nearest_edge() -> None:
    # No-parking rectangle 0.002 deg (~222 m) tall; the point is 0.0003 deg (~33 m) below its north edge.
    no_park = zone("no-park", square(LON, LAT, 0.001), NO_END, kind=ZoneKind.NO_PARKING)
    zones = CompiledZones([no_park, zone("area", square(LON, LAT, 0.05), ALLOW)], global_rules=[NO_END])
    result = zones.nearest_allowed_end(LON, LAT + 0.0007, "scooter", AT)
    assert result is not None
    lon, lat, distance = result
    assert lon == pytest.approx(LON, abs=1e-7)
    assert lat > LAT + 0.001  # beyond the edge, inside the allowed area
    assert distance == pytest.approx(0.0003 * METRES_PER_DEG_LAT + 0.5, abs=0.3)
    assert distance == pytest.approx(haversine_m(LON, LAT + 0.0007, lon, lat))
    assert_allowed_end(zones, result, "scooter")


def test_outside_the_operating_area_the_nearest_point_inside_it() -> None:
    zones = CompiledZones([zone("area", square(LON, LAT, 0.01), ALLOW)], global_rules=[NO_END])
    result = zones.nearest_allowed_end(LON + 0.02, LAT, "scooter", AT)  # 0.01 deg east of the area
    assert result is not None
    assert result[0] < LON + 0.01 and result[1] == pytest.approx(LAT, abs=1e-7)
    expected = haversine_m(LON + 0.02, LAT, LON + 0.01, LAT)
    assert result[2] == pytest.approx(expected + 0.5, abs=0.5)
    assert_allowed_end(zones, result, "scooter")


def test_in_a_must_park_area_the_nearest_parking_spot_for_the_type() -> None:
    near_bike_spot = zone(
        "bike-spot", square(LON + 0.001, LAT, 0.0001), only("bike"), kind=ZoneKind.PARKING_MANDATORY
    )
    far_spot = zone("spot", square(LON - 0.003, LAT, 0.0001), kind=ZoneKind.PARKING_MANDATORY)
    must_park = zone("centre", square(LON, LAT, 0.01), Rule(station_parking=True))
    zones = CompiledZones([must_park, near_bike_spot, far_spot], global_rules=[NO_END])
    scooter = zones.nearest_allowed_end(LON, LAT, "scooter", AT)
    assert scooter is not None and scooter[0] == pytest.approx(LON - 0.0029, abs=1e-5)
    assert_allowed_end(zones, scooter, "scooter")
    bike = zones.nearest_allowed_end(LON, LAT, "bike", AT)
    assert bike is not None and bike[0] == pytest.approx(LON + 0.0009, abs=1e-5)
    assert bike[2] < scooter[2]
    assert_allowed_end(zones, bike, "bike")


def test_precedence_shapes_the_allowed_area() -> None:
    # An earlier no-ride zone cuts a hole in a later parking zone; the hole is not a place to end.
    no_ride = zone("no-ride", square(LON, LAT, 0.001), NO_RIDE, kind=ZoneKind.NO_RIDE)
    park = zone("park", square(LON, LAT, 0.002), ALLOW)
    zones = CompiledZones([no_ride, park], global_rules=[NO_END])
    region = allowed_end_region(zones, "scooter", AT)
    assert region.area == pytest.approx(0.004**2 - 0.002**2, rel=1e-9)
    assert_allowed_end(zones, zones.nearest_allowed_end(LON, LAT, "scooter", AT), "scooter")


def test_schedules_count_at_the_given_time() -> None:
    night = zone("night", square(LON, LAT, 0.01), NO_END, start=AT, end=AT + timedelta(hours=6))
    zones = CompiledZones([night])
    before = zones.nearest_allowed_end(LON, LAT, "scooter", AT - timedelta(seconds=1))
    assert before == (LON, LAT, 0.0)
    during = zones.nearest_allowed_end(LON, LAT, "scooter", AT)
    # East or west is nearer than north or south at this latitude.
    assert during is not None and during[2] == pytest.approx(
        haversine_m(LON, LAT, LON + 0.01, LAT) + 0.5, abs=0.5
    )


def test_nowhere_to_end_gives_none() -> None:
    zones = CompiledZones([zone("closed", square(LON, LAT, 0.01), NO_END)], global_rules=[NO_END])
    assert zones.nearest_allowed_end(LON, LAT, "scooter", AT) is None
    assert CompiledZones([], global_rules=[NO_END]).nearest_allowed_end(LON, LAT, "scooter", AT) is None


def test_haversine() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(METRES_PER_DEG_LAT, rel=1e-4)
    assert haversine_m(LON, LAT, LON, LAT) == 0.0


def test_far_away_answers_grow_the_search_window() -> None:
    zones = CompiledZones([zone("area", square(LON, LAT, 0.005), ALLOW)], global_rules=[NO_END])
    result = zones.nearest_allowed_end(LON, LAT + 0.05, "scooter", AT)  # 0.045 deg (~5 km) north of the area
    assert result is not None
    assert result[2] == pytest.approx(0.045 * METRES_PER_DEG_LAT + 0.5, abs=1.0)
    assert_allowed_end(zones, result, "scooter")


def test_windowed_search_matches_the_whole_city_area() -> None:
    zones = CompiledZones(*synthetic.city())
    lons, lats, types = synthetic.random_points(11, 3000)
    verdicts = zones.evaluate_batch(lons, lats, types, synthetic.AT)
    refused = [i for i, v in enumerate(verdicts) if not v.ride_end_allowed][:40]
    assert len(refused) == 40
    whole = {t: allowed_end_region(zones, t, synthetic.AT) for t in synthetic.TYPES}
    for i in refused:
        lon, lat, type_id = float(lons[i]), float(lats[i]), types[i]
        found = zones.nearest_allowed_end(lon, lat, type_id, synthetic.AT)
        assert found is not None
        x, y = parking._nearest_inside(shapely.transform(whole[type_id], parking._local(lon, lat)))
        assert found[2] == pytest.approx(float(np.hypot(x, y)), abs=0.6)
        assert zones.evaluate(found[0], found[1], type_id, synthetic.AT).ride_end_allowed


def test_a_corner_of_the_search_window_is_not_nearer_than_an_answer_just_outside_it() -> None:
    m_lat = 1 / METRES_PER_DEG_LAT
    m_lon = m_lat / math.cos(math.radians(LAT))
    # Inside the first 250 m window, in its corner: ~339 m away. Outside it, straight north: ~300 m away.
    corner = zone("corner", square(LON + 240 * m_lon, LAT + 240 * m_lat, 2 * m_lat), ALLOW)
    north = zone("north", square(LON, LAT + 302 * m_lat, 2 * m_lat), ALLOW)
    zones = CompiledZones([corner, north], global_rules=[NO_END])
    result = zones.nearest_allowed_end(LON, LAT, "scooter", AT)
    assert result is not None
    assert result[2] == pytest.approx(300.5, abs=0.3)
    assert zones.evaluate(result[0], result[1], "scooter", AT).zone_id == "north"


def test_at_the_pole_nothing_divides_by_zero() -> None:
    zones = CompiledZones([zone("area", square(0.0, 89.0, 0.5), ALLOW)], global_rules=[NO_END])
    result = zones.nearest_allowed_end(0.0, 90.0, "scooter", AT)
    assert result is not None and result[2] == pytest.approx(0.5 * METRES_PER_DEG_LAT + 0.5, rel=0.01)
