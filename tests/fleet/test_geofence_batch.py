"""evaluate_batch() must answer exactly what evaluate() answers, point by point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.geofence import CompiledZones, Rule, Verdict, ZoneKind, ZoneSpec
from tests.fleet.test_geofence_helpers import square, zone

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(hours=h) for h in (-1, 0, 1, 2)] + [T0 + timedelta(hours=1, microseconds=-1)]
TYPES = ["bike", "scooter", "moped", None]

rules = st.builds(
    Rule,
    vehicle_type_ids=st.none() | st.frozensets(st.sampled_from(TYPES[:3]), min_size=1),
    ride_start_allowed=st.booleans(),
    ride_end_allowed=st.booleans(),
    ride_through_allowed=st.booleans(),
    maximum_speed_kph=st.none() | st.integers(0, 40),
    station_parking=st.none() | st.booleans(),
)


@st.composite
def zone_specs(draw: st.DrawFn, index: int) -> ZoneSpec:
    lon, lat = draw(st.integers(0, 8)) / 100, draw(st.integers(0, 8)) / 100  # on a grid: shared edges
    start = draw(st.none() | st.sampled_from(TIMES[:3]))
    end = draw(st.none() | st.sampled_from(TIMES[1:]))
    return zone(
        f"z{index}",
        square(lon, lat, draw(st.sampled_from([0.005, 0.01, 0.02, 0.04]))),
        *draw(st.lists(rules, max_size=3)),
        kind=draw(st.sampled_from(ZoneKind.ALL)),
        start=start,
        end=end,
    )


@st.composite
def cities(draw: st.DrawFn) -> CompiledZones:
    count = draw(st.integers(0, 8))
    zones = [draw(zone_specs(i)) for i in range(count)]
    return CompiledZones(zones, draw(st.lists(rules, max_size=2)))


def points(zones: CompiledZones) -> st.SearchStrategy[tuple[float, float]]:
    anywhere = st.tuples(st.floats(-0.05, 0.13), st.floats(-0.05, 0.13))
    corners = [tuple(xy) for z in zones.zones for xy in z.geometry["coordinates"][0]]
    return anywhere | st.sampled_from(corners) if corners else anywhere


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_batch_equals_single_for_random_cities_points_types_and_times(data: st.DataObject) -> None:
    zones = data.draw(cities())
    at = data.draw(st.sampled_from(TIMES))
    batch = data.draw(st.lists(st.tuples(points(zones), st.sampled_from(TYPES)), min_size=1, max_size=60))
    lons = np.array([lon for (lon, _), _ in batch])
    lats = np.array([lat for (_, lat), _ in batch])
    types = [t for _, t in batch]
    expected = [zones.evaluate(lon, lat, t, at) for (lon, lat), t in batch]
    assert zones.evaluate_batch(lons, lats, types, at) == expected


def test_batch_on_a_dense_grid_with_one_type_for_all_points() -> None:
    spot = zone("spot", square(0.0, 0.0, 0.004), kind=ZoneKind.PARKING_MANDATORY)
    must_park = zone("centre", square(0.0, 0.0, 0.01), Rule(station_parking=True, maximum_speed_kph=12))
    night = zone("night", square(0.01, 0.0, 0.01), Rule(ride_through_allowed=False), start=T0, end=TIMES[2])
    zones = CompiledZones([must_park, night, spot], global_rules=[Rule(ride_end_allowed=False)])
    grid = np.linspace(-0.025, 0.025, 101)
    lons, lats = (a.ravel() for a in np.meshgrid(grid, grid))
    for at in TIMES:
        expected = [zones.evaluate(x, y, "scooter", at) for x, y in zip(lons, lats, strict=True)]
        assert zones.evaluate_batch(lons, lats, "scooter", at) == expected
    verdicts = zones.evaluate_batch(lons, lats, "scooter", T0)
    assert {v.zone_id for v in verdicts} == {"centre", "night", None}
    assert any(v.ride_end_allowed for v in verdicts) and not all(v.ride_end_allowed for v in verdicts)


def test_empty_batch_and_empty_city() -> None:
    zones = CompiledZones([zone("z", square(0, 0, 1), Rule(ride_end_allowed=False))])
    assert zones.evaluate_batch(np.array([]), np.array([]), [], T0) == []
    assert CompiledZones([]).evaluate_batch([1.0, 2.0], [3.0, 4.0], None, T0) == [Verdict(), Verdict()]


def test_batch_checks_its_input_lengths() -> None:
    zones = CompiledZones([])
    with pytest.raises(ValueError, match="lons has 2 items, lats has 1"):
        zones.evaluate_batch([1.0, 2.0], [3.0], None, T0)
    with pytest.raises(ValueError, match="vehicle_type_ids has 1 items for 2 points"):
        zones.evaluate_batch([1.0, 2.0], [3.0, 4.0], ["bike"], T0)


def test_batch_equals_single_on_vertices_cell_edges_and_random_points_of_a_200_zone_city() -> None:
    from bench import _geofence_city as synthetic

    zones = CompiledZones(*synthetic.city())
    vertices = np.array([xy for z in zones.zones for xy in z.geometry["coordinates"][0][0]])
    index = zones.cell_index
    minx, miny, maxx, maxy = index.bounds
    edges_x = minx + np.arange(index.nx + 1) * (maxx - minx) / index.nx
    edges_y = miny + np.arange(index.ny + 1) * (maxy - miny) / index.ny
    rng = np.random.default_rng(3)
    cell_edges = np.column_stack([rng.choice(edges_x, 3000), rng.uniform(miny, maxy, 3000)])
    cell_edges = np.vstack(
        [cell_edges, np.column_stack([rng.uniform(minx, maxx, 3000), rng.choice(edges_y, 3000)])]
    )
    lons, lats, _ = synthetic.random_points(9, 4000)
    points = np.vstack([vertices, cell_edges, np.column_stack([lons, lats])])
    types = [synthetic.TYPES[i % 3] for i in range(len(points))]
    expected = [zones.evaluate(x, y, t, synthetic.AT) for (x, y), t in zip(points, types, strict=True)]
    assert zones.evaluate_batch(points[:, 0], points[:, 1], types, synthetic.AT) == expected
    active = [z.active_at(synthetic.AT) for z in zones.zones for _ in z.geometry["coordinates"][0][0]]
    # A vertex of an active zone is on its boundary, which belongs to the zone.
    assert all(v.zone_ids for v, on in zip(expected, active, strict=False) if on)


def test_batch_equals_single_on_every_corner_of_squares_sharing_edges() -> None:
    # Regression: a corner on a zone's bounding box could round into the next cell and miss the zone.
    specs = [
        zone(f"z{lon}-{lat}-{half}", square(lon / 100, lat / 100, half), Rule(maximum_speed_kph=lon + lat))
        for lon in range(0, 9, 2)
        for lat in range(0, 9, 3)
        for half in (0.005, 0.01, 0.02, 0.04)
    ]
    zones = CompiledZones(specs)
    corners = np.unique(np.array([xy for z in specs for xy in z.geometry["coordinates"][0]]), axis=0)
    expected = [zones.evaluate(x, y, None, T0) for x, y in corners]
    assert zones.evaluate_batch(corners[:, 0], corners[:, 1], None, T0) == expected
    assert all(v.zone_ids for v in expected)


def test_points_outside_every_zone_and_nan_get_the_global_rules() -> None:
    zones = CompiledZones(
        [zone("z", square(0, 0, 0.01), Rule(maximum_speed_kph=5))], [Rule(ride_end_allowed=False)]
    )
    lons = np.array([0.0, 179.9, float("nan"), 0.0])
    lats = np.array([0.0, 89.9, 0.0, float("nan")])
    expected = [zones.evaluate(x, y, "bike", T0) for x, y in zip(lons, lats, strict=True)]
    assert zones.evaluate_batch(lons, lats, "bike", T0) == expected
    assert [v.zone_id for v in expected] == ["z", None, None, None]


def test_one_compiled_city_shared_by_threads_gives_the_sequential_answers() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bench import _geofence_city as synthetic

    specs, global_rules = synthetic.city()
    lons, lats, types = synthetic.random_points(12, 4000)
    expected = CompiledZones(specs, global_rules).evaluate_batch(lons, lats, types, synthetic.AT)
    shared = CompiledZones(specs, global_rules)  # cell index, type tables and verdicts built under contention

    def work(part: int) -> bool:
        chunk = slice(part * 500, (part + 1) * 500)
        batch = shared.evaluate_batch(lons[chunk], lats[chunk], types[chunk], synthetic.AT)
        single = [
            shared.evaluate(x, y, t, synthetic.AT) for x, y, t in zip(lons[chunk], lats[chunk], types[chunk])
        ]
        return batch == single == expected[chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(work, range(8)))
