"""Zone geometry validation: every refusal names what is wrong and where; valid input comes back normalised."""

from __future__ import annotations

import math
from typing import Any

import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.errors import DomainError, exception_handler
from fleet.geojson import MAX_POSITIONS, GeometryInvalid, validate_multipolygon

SQUARE = [[13.0, 52.0], [13.1, 52.0], [13.1, 52.1], [13.0, 52.1], [13.0, 52.0]]  # counter-clockwise
HOLE = [[13.02, 52.02], [13.02, 52.04], [13.04, 52.04], [13.04, 52.02], [13.02, 52.02]]  # clockwise


def polygon(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def refusal(obj: object) -> GeometryInvalid:
    with pytest.raises(GeometryInvalid) as info:
        validate_multipolygon(obj)
    return info.value


def test_error_is_a_400_domain_error_rendered_in_the_envelope() -> None:
    error = refusal(polygon([[13.0, 52.0], [13.1, 52.0], [13.0, 52.0]]))
    assert isinstance(error, DomainError)
    assert (error.code, error.status) == ("geometry_invalid", 400)
    response = exception_handler(error, {})
    assert response is not None and response.status_code == 400
    assert response.data["error"] == {
        "code": "geometry_invalid",
        "message": "polygon 0, ring 0: a linear ring needs at least 4 positions, got 3",
        "details": {"polygon": 0, "ring": 0},
    }


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ([1, 2], "geometry must be a GeoJSON object, got list"),
        (
            {"type": "Point", "coordinates": [13, 52]},
            "geometry type must be Polygon or MultiPolygon, got 'Point'",
        ),
        ({"coordinates": []}, "geometry type must be Polygon or MultiPolygon, got None"),
        ({"type": "Polygon", "coordinates": "13,52"}, "coordinates must be an array"),
        (
            {"type": "MultiPolygon", "coordinates": []},
            "geometry is empty: a MultiPolygon needs at least one polygon",
        ),
        ({"type": "Polygon", "coordinates": []}, "polygon 0: must be a non-empty array of linear rings"),
        (
            {"type": "MultiPolygon", "coordinates": [[SQUARE], []]},
            "polygon 1: must be a non-empty array of linear rings",
        ),
        (polygon(SQUARE, "ring"), "polygon 0, ring 1: must be an array of positions"),
    ],
)
def test_structure_errors(obj: object, message: str) -> None:
    assert refusal(obj).detail_message == message


def test_ring_must_be_closed_and_the_message_shows_both_ends() -> None:
    error = refusal(polygon(SQUARE[:-1] + [[13.0, 52.05]]))
    assert error.detail_message == (
        "polygon 0, ring 0: ring is not closed, first position [13.0, 52.0] differs from last position [13.0, 52.05]"
    )
    assert error.details == {"polygon": 0, "ring": 0}


@pytest.mark.parametrize(
    ("position", "message"),
    [
        ([13.1], "a position must be [lon, lat] or [lon, lat, alt]"),
        ([13.1, 52.0, 3, 4], "a position must be [lon, lat] or [lon, lat, alt]"),
        ("13.1,52.0", "a position must be [lon, lat] or [lon, lat, alt]"),
        (["13.1", 52.0], "coordinates must be finite numbers, got ['13.1', 52.0]"),
        ([True, 52.0], "coordinates must be finite numbers, got [True, 52.0]"),
        ([float("nan"), 52.0], "coordinates must be finite numbers, got [nan, 52.0]"),
        ([float("inf"), 52.0], "coordinates must be finite numbers, got [inf, 52.0]"),
        ([180.5, 52.0], "longitude 180.5 is outside -180..180 (WGS84 is [lon, lat])"),
        ([13.1, -90.01], "latitude -90.01 is outside -90..90 (WGS84 is [lon, lat])"),
    ],
)
def test_position_errors_name_polygon_ring_and_position(position: object, message: str) -> None:
    hole = [list(p) for p in HOLE]
    hole[2] = position  # type: ignore[call-overload]
    error = refusal({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE, hole]]})
    assert error.detail_message == f"polygon 1, ring 1, position 2: {message}"
    assert error.details == {"polygon": 1, "ring": 1, "position": 2}


def test_swapped_lat_lon_is_caught_by_the_range_check() -> None:
    swapped = [[lat, lon] for lon, lat in SQUARE]
    assert refusal(polygon([[52.0, 113.0], *swapped[1:-1], [52.0, 113.0]])).detail_message == (
        "polygon 0, ring 0, position 0: latitude 113.0 is outside -90..90 (WGS84 is [lon, lat])"
    )


@pytest.mark.parametrize(
    ("rings", "message"),
    [
        (
            [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
            "polygon 0: invalid polygon: Self-intersection[0.5 0.5]",
        ),
        ([[[0, 0], [1, 0], [2, 0], [0, 0]]], "polygon 0: invalid polygon: Self-intersection[1 0]"),
        (
            [[[0, 0], [1, 0], [1, 0], [0, 0]]],
            "polygon 0: invalid polygon: Too few points in geometry component[0 0]",
        ),
        (
            [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]], [[3, 3], [4, 3], [4, 4], [3, 3]]],
            "polygon 0: invalid polygon: Hole lies outside shell[3 3]",
        ),
    ],
)
def test_invalid_polygons_are_explained(rings: list[Any], message: str) -> None:
    error = refusal(polygon(*rings))
    assert error.detail_message == message
    assert error.details == {"polygon": 0}


def test_overlapping_parts_of_a_multipolygon_are_refused() -> None:
    a = [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]
    b = [[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]
    assert refusal({"type": "MultiPolygon", "coordinates": [[a], [b]]}).detail_message == (
        "polygons overlap or touch along an edge: Self-intersection[1 2]; merge them into one polygon"
    )


def test_size_limit() -> None:
    ring = [[13.0 + 0.1 * i / MAX_POSITIONS, 52.0 + (i % 2) * 1e-3] for i in range(MAX_POSITIONS)]
    ring = [[13.0, 51.9], *ring, [13.0, 51.9]]
    assert refusal(polygon(ring)).detail_message == f"geometry has more than {MAX_POSITIONS} positions"


def test_polygon_is_normalised_to_a_right_hand_rule_multipolygon_of_floats() -> None:
    # Clockwise, with ints and an altitude.
    clockwise: list[list[Any]] = [[13, 52], [13, 52.1, 40], [13.1, 52.1], [13.1, 52], [13, 52]]
    counter_clockwise_hole = list(reversed(HOLE))
    result = validate_multipolygon(polygon(clockwise, counter_clockwise_hole))
    assert result["type"] == "MultiPolygon"
    [[exterior, hole]] = result["coordinates"]
    assert all(isinstance(v, float) for position in exterior + hole for v in position)
    assert all(len(position) == 2 for position in exterior + hole)
    assert shapely.LinearRing(exterior).is_ccw
    assert not shapely.LinearRing(hole).is_ccw
    assert shapely.geometry.shape(result).equals(
        shapely.Polygon([p[:2] for p in clockwise], [counter_clockwise_hole])
    )


def test_valid_multipolygon_round_trips_unchanged() -> None:
    other = [[14.0, 52.0], [14.1, 52.0], [14.1, 52.1], [14.0, 52.1], [14.0, 52.0]]
    obj = {"type": "MultiPolygon", "coordinates": [[SQUARE, HOLE], [other]]}
    assert validate_multipolygon(obj) == obj
    assert validate_multipolygon(validate_multipolygon(obj)) == obj


@settings(max_examples=60, deadline=None)
@given(
    angles=st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=3, max_size=40, unique=True),
    radii=st.lists(st.floats(0.2, 1.0), min_size=40, max_size=40),
    clockwise=st.booleans(),
)
def test_any_star_shaped_ring_is_accepted_and_normalised(
    angles: list[float], radii: list[float], clockwise: bool
) -> None:
    angles = sorted(angles)
    assume(min(b - a for a, b in zip(angles, [*angles[1:], angles[0] + 2 * math.pi], strict=True)) > 1e-3)
    ring = [
        [13.4 + 0.01 * r * math.cos(a), 52.5 + 0.01 * r * math.sin(a)]
        for a, r in zip(angles, radii, strict=False)
    ]
    assume(shapely.Polygon(ring).is_valid and shapely.Polygon(ring).area > 1e-9)
    ring = ring[::-1] if clockwise else ring
    result = validate_multipolygon(polygon([*ring, ring[0]]))
    [[exterior]] = result["coordinates"]
    assert shapely.LinearRing(exterior).is_ccw
    assert shapely.geometry.shape(result).equals(shapely.Polygon(ring))
    assert validate_multipolygon(result) == result


@pytest.mark.parametrize(("obj", "where"), [
    # GEOS names the crossing of a bow tie, and where two polygons overlap
    (polygon([[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]), (1.0, 1.0)),
    ({"type": "MultiPolygon", "coordinates": [[[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
                                              [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]]}, (1.0, 2.0)),
    (polygon([[5, 6], [7, 8], [5, 6]]), (5.0, 6.0)),  # too few positions: the ring's first
    (polygon([[5, 6], [7, 8], [7, 6], [5, 7]]), (5.0, 6.0)),  # not closed
    (polygon([[5, 6], [7, 8], [7, 6], [500, 7], [5, 6]]), None),  # the offending position is not on Earth
    ({"type": "Point", "coordinates": [1, 2]}, None),  # nothing to place
])
def test_error_location_places_the_problem(obj: Any, where: tuple[float, float] | None) -> None:
    from fleet.geojson import error_location

    assert error_location(obj, refusal(obj)) == where
