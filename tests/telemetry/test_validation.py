"""Cheap validation of one wire message: what is accepted, and the code of what is not."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from telemetry import validation

NOW = 1_795_438_800_000
LIMITS = {"now_ms": NOW, "max_age_ms": 7 * 86_400_000, "max_future_ms": 300_000}


def check(payload: Any) -> list[object]:
    return validation.validate(payload, **LIMITS)


def test_a_full_message_becomes_the_compact_row() -> None:
    correlation = uuid.uuid4()
    row = check({"seq": 5, "ts": "2026-11-23T13:00:00.120Z", "lat": 52.5, "lon": 13.4, "acc": 3, "heading": 90,
                 "speed_kph": 12.5, "battery_pct": 80, "locked": True, "odometer_m": 1200,
                 "alarms": ["tamper"], "ack": {"correlation_id": str(correlation), "ok": True}, "future": "x"})
    assert row == [5, 1795438800120, 52.5, 13.4, 3.0, 90.0, 12.5, 80, True, 1200, ["tamper"],
                   [correlation.bytes, True, ""]]


def test_only_seq_and_ts_are_required() -> None:
    assert check({"seq": 0, "ts": NOW}) == [0, NOW, None, None, None, None, None, None, None, None, None, None]


@pytest.mark.parametrize(("payload", "code"), [
    ([1, 2], "not_an_object"),
    ({"ts": NOW}, "missing_field"),
    ({"seq": 1}, "missing_field"),
    ({"seq": 1, "ts": NOW, "lat": 52.0}, "missing_field"),
    ({"seq": -1, "ts": NOW}, "invalid_field"),
    ({"seq": "1", "ts": NOW}, "invalid_field"),
    ({"seq": 1, "ts": "yesterday"}, "invalid_field"),
    ({"seq": 1, "ts": "2026-11-23T13:00:00"}, "invalid_field"),  # no zone
    ({"seq": 1, "ts": NOW + 301_000}, "ts_in_future"),
    ({"seq": 1, "ts": NOW - 8 * 86_400_000}, "ts_too_old"),
    ({"seq": 1, "ts": NOW, "lat": 90.5, "lon": 0}, "out_of_range"),
    ({"seq": 1, "ts": NOW, "lat": float("nan"), "lon": 0}, "out_of_range"),
    ({"seq": 1, "ts": NOW, "speed_kph": -1}, "out_of_range"),
    ({"seq": 1, "ts": NOW, "battery_pct": 101}, "out_of_range"),
    ({"seq": 1, "ts": NOW, "battery_pct": 50.5}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "battery_pct": True}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "heading": "north"}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "locked": "yes"}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "alarms": ["on_fire"]}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "ack": {"correlation_id": "nope", "ok": True}}, "invalid_field"),
    ({"seq": 1, "ts": NOW, "ack": {"correlation_id": str(uuid.uuid4()), "ok": "yes"}}, "invalid_field"),
])
def test_refusals_carry_a_stable_code(payload: Any, code: str) -> None:
    with pytest.raises(validation.Invalid) as refused:
        check(payload)
    assert refused.value.code == code
