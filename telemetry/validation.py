"""Cheap validation of one wire message (``telemetry.messages``) into the compact row the streams carry.

Runs on the hot path of both edges (HTTP and MQTT) for every message, so it is plain Python over the decoded
dict: no serializer, no database, no allocation beyond the row. A message is either accepted whole or rejected
with one error code; unknown keys are ignored (newer firmware may send more).

The compact row (a list, msgpack-encoded in the stream entry; ``None`` for an absent field)::

    [seq, ts_ms, lat, lon, accuracy_m, heading, speed_kph, battery_pct, locked, odometer_m, alarms, ack]

with ``alarms`` a list of names or ``None`` and ``ack`` ``[correlation_id (16 bytes), ok, reason]`` or ``None``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from telemetry.messages import ALARMS

# Error codes of a rejected message (docs/telemetry.md); the metrics count rejections by these.
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
OUT_OF_RANGE = "out_of_range"
TS_IN_FUTURE = "ts_in_future"
TS_TOO_OLD = "ts_too_old"

SEQ_MAX = 2**63 - 1
# (key, minimum, maximum) of the optional numeric fields, in row order after lat/lon.
_NUMBERS = (("acc", 0.0, 100_000.0), ("heading", 0.0, 360.0), ("speed_kph", 0.0, 250.0))


class Invalid(Exception):
    """One rejected message: ``code`` is stable (counted in metrics), ``message`` says which field and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _number(payload: dict[str, object], key: str, low: float, high: float) -> float | None:
    value = payload.get(key)
    if value is None:
        return None
    if type(value) is not float and type(value) is not int:  # bool is an int subclass: refused on purpose
        raise Invalid(INVALID_FIELD, f"{key} must be a number")
    if not low <= value <= high:  # NaN fails this too
        raise Invalid(OUT_OF_RANGE, f"{key} must be between {low:g} and {high:g}")
    return float(value)


def _integer(payload: dict[str, object], key: str, low: int, high: int) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise Invalid(INVALID_FIELD, f"{key} must be an integer")
    if not low <= value <= high:
        raise Invalid(OUT_OF_RANGE, f"{key} must be between {low} and {high}")
    return value


def _timestamp_ms(value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(INVALID_FIELD, "ts must be epoch milliseconds or an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise Invalid(INVALID_FIELD, "ts needs a time zone (e.g. Z)")
        return round(parsed.timestamp() * 1000)
    raise Invalid(INVALID_FIELD, "ts must be epoch milliseconds or an ISO 8601 time")


def _alarms(value: object) -> list[str] | None:
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(a, str) and a in ALARMS for a in value):
        raise Invalid(INVALID_FIELD, f"alarms must be a list of {', '.join(ALARMS)}")
    return value


def _ack(value: object) -> list[object] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(INVALID_FIELD, "ack must be an object")
    try:
        correlation = uuid.UUID(str(value["correlation_id"]))
    except (KeyError, ValueError):
        raise Invalid(INVALID_FIELD, "ack.correlation_id must be a UUID") from None
    ok, reason = value.get("ok"), value.get("reason", "")
    if type(ok) is not bool or not isinstance(reason, str):
        raise Invalid(INVALID_FIELD, "ack.ok must be a boolean and ack.reason a string")
    return [correlation.bytes, ok, reason[:200]]


def validate(payload: object, *, now_ms: int, max_age_ms: int, max_future_ms: int) -> list[object]:
    """The compact row of one wire message, or ``Invalid``. ``now_ms`` is the edge's clock (epoch ms)."""
    if not isinstance(payload, dict):
        raise Invalid(NOT_AN_OBJECT, "a message must be a JSON/MessagePack object")
    seq, ts = payload.get("seq"), payload.get("ts")
    if seq is None or ts is None:
        raise Invalid(MISSING_FIELD, "seq and ts are required")
    if type(seq) is not int or not 0 <= seq <= SEQ_MAX:
        raise Invalid(INVALID_FIELD, "seq must be a non-negative integer")
    ts_ms = _timestamp_ms(ts)
    if ts_ms > now_ms + max_future_ms:
        raise Invalid(TS_IN_FUTURE, "ts is in the future (check the unit's clock)")
    if ts_ms < now_ms - max_age_ms:
        raise Invalid(TS_TOO_OLD, "ts is too old to be accepted")
    lat, lon = _number(payload, "lat", -90.0, 90.0), _number(payload, "lon", -180.0, 180.0)
    if (lat is None) != (lon is None):
        raise Invalid(MISSING_FIELD, "lat and lon come together")
    row: list[object] = [seq, ts_ms, lat, lon]
    row.extend(_number(payload, key, low, high) for key, low, high in _NUMBERS)
    row.append(_integer(payload, "battery_pct", 0, 100))
    locked = payload.get("locked")
    if locked is not None and type(locked) is not bool:
        raise Invalid(INVALID_FIELD, "locked must be a boolean")
    row.append(locked)
    row.append(_integer(payload, "odometer_m", 0, 10**11))
    row.append(_alarms(payload.get("alarms")))
    row.append(_ack(payload.get("ack")))
    return row
