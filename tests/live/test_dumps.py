"""The sockets' JSON: orjson for speed, the same text as ``json.dumps`` for what the pushes carry."""

from __future__ import annotations

import json
from decimal import Decimal

from live.consumers import dumps


def test_the_same_compact_text_as_the_standard_library_for_push_payloads():
    body = {"type": "ride.updated", "seq": 7, "data": {"position": {"lat": 52.520008, "lon": 13.404954},
                                                      "battery_pct": 80, "paused": False, "ended": None,
                                                      "name": "Zoë ✓", "vehicles": [{"id": "a"}, {"id": "b"}]}}
    assert dumps(body) == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(dumps(body)) == body


def test_what_orjson_refuses_goes_through_djangos_encoder():
    assert json.loads(dumps({"type": "x", "data": {"total": Decimal("1.25"), 3: "non-string key"}})) == {
        "type": "x", "data": {"total": "1.25", "3": "non-string key"}}
