"""MDS Provider ``/trips?end_time=YYYY-MM-DDTHH``: the rides that closed in an hour, as MDS trips."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feeds.mds.hours import HOUR
from rides import selectors as ride_selectors


def trips_ended_in_hour(*, city_ids: Sequence[uuid.UUID], provider_id: str, start: datetime,
                        request_base: str = "") -> list[dict[str, Any]]:
    """Every trip of the cities with ``start <= end_time < start + 1 h`` (rides ended, and starts cancelled before
    their unlock: a ``trip_cancel`` event names them), never paginated (MDS)."""
    rides = ride_selectors.rides_closed_between(city_ids=city_ids, start=start, end=start + HOUR)
    return [ride_selectors.mds_trip(ride=ride, provider_id=provider_id, request_base=request_base) for ride in rides]
