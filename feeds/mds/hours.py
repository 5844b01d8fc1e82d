"""The hourly MDS endpoints' hour: parsing ``YYYY-MM-DDTHH`` and whether its data can be served yet.

MDS Provider (``/trips``, ``/events/historical``): 404 for an hour not yet in the past or in which the provider was
not operating, 202 for a past hour whose data is not yet available, 200 (maybe with an empty list) otherwise. Here
an hour ``[start, end)`` of a set of cities is

- ``future``: ``end`` is not yet past;
- ``not_operated``: none of the cities had a vehicle event before ``end`` (the first one is the first deployment);
- ``pending`` while any of: ``end + MDS_HOUR_GRACE_S`` is not yet past (a late device report may still land in
  it); a reading an edge accepted before ``end`` still waits in the telemetry streams (its reactions, such as
  ``battery_low`` or ``comms_restored``, are events of the hour); a ride created in the hour is still open (its
  ``trip_start`` would name a trip ``/trips`` does not serve yet); a ride asked to end before ``end`` still waits
  for its lock (it may end with an ``ended_at`` in the hour);
- ``complete`` otherwise: what the hour holds will not change.
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings

from feeds.mds import errors
from fleet import selectors as fleet_selectors
from rides import selectors as ride_selectors
from telemetry import selectors as telemetry_selectors

HOUR = timedelta(hours=1)
_HOUR_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})")


class HourState(enum.StrEnum):
    FUTURE = "future"
    NOT_OPERATED = "not_operated"
    PENDING = "pending"
    COMPLETE = "complete"


def hour_param(params: Mapping[str, str], name: str) -> datetime:
    """The UTC hour named by query parameter ``name`` (``YYYY-MM-DDTHH``) as the datetime of its start."""
    value = params.get(name)
    if not value:
        raise errors.ParamMissing(f"The {name} parameter (YYYY-MM-DDTHH, a UTC hour) is required.",
                                  error_details=[name])
    match = _HOUR_RE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour = map(int, match.groups())
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        raise errors.ParamInvalid(f"{name} must be a UTC hour YYYY-MM-DDTHH (00 to 23), got {value!r}.",
                                  error_details=[name]) from None


def hour_state(*, city_ids: Sequence[uuid.UUID], start: datetime, now: datetime, trips: bool) -> HourState:
    """Where the hour starting at ``start`` stands for these cities (module docstring). ``trips``: for ``/trips``
    (rides whose end may still land in the hour) rather than ``/events/historical`` (rides whose start did)."""
    end = start + HOUR
    if end > now:
        return HourState.FUTURE
    if not fleet_selectors.city_operated_before(city_ids=city_ids, before=end):
        return HourState.NOT_OPERATED
    if end + timedelta(seconds=settings.MDS_HOUR_GRACE_S) > now or not telemetry_selectors.history_drained_before(end):
        return HourState.PENDING
    if trips and ride_selectors.ride_end_pending_before(city_ids=city_ids, before=end):
        return HourState.PENDING
    if not trips and ride_selectors.ride_open_created_between(city_ids=city_ids, start=start, end=end):
        return HourState.PENDING
    return HourState.COMPLETE


def retry_after_s(*, start: datetime, now: datetime) -> int:
    """Seconds a client should wait before asking again for a pending hour."""
    ready_at = start + HOUR + timedelta(seconds=settings.MDS_HOUR_GRACE_S)
    return max(60, int((ready_at - now).total_seconds()))
