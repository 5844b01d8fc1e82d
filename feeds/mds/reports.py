"""MDS Provider ``/reports/YYYY-MM.csv``: monthly counts of trips and riders, redacted below 10.

Months are the agency's local months (each city's time zone); a trip counts in the month and for the vehicle type
it started with (MDS data-types.md "Reports"). Every combination of special group type and vehicle type in
operation is a row. Freewheel has no low-income discount and no adaptive vehicles, so those groups count 0 (written
-1, like every count under 10); with no MDS Geography, ``geography_id`` is null (an empty field) and counts cover
the whole operating area.
"""

from __future__ import annotations

import csv
import io
import uuid
import zoneinfo
from collections.abc import Sequence
from datetime import date, datetime

from fleet import selectors as fleet_selectors
from rides import selectors as ride_selectors

HEADER = ("provider_id", "start_date", "duration", "special_group_type", "geography_id", "vehicle_type",
          "trip_count", "rider_count")
SPECIAL_GROUPS = ("all_riders", "low_income", "adaptive_scooter")
K_ANONYMITY = 10  # MDS: a count under 10, 0 included, is written -1


def redact(count: int) -> int:
    return count if count >= K_ANONYMITY else -1


def month_bounds(month: date, timezone: str) -> tuple[datetime, datetime]:
    """The local month's first instant and the next month's, in the city's time zone."""
    zone = zoneinfo.ZoneInfo(timezone)
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (datetime(month.year, month.month, 1, tzinfo=zone),
            datetime(following.year, following.month, 1, tzinfo=zone))


def report_available(*, cities: Sequence[tuple[uuid.UUID, str]], month: date, now: datetime) -> bool:
    """The month is over in every city and one of them operated before it ended (else MDS: 404)."""
    ends = [month_bounds(month, timezone)[1] for _, timezone in cities]
    if not ends or max(ends) > now:
        return False
    return fleet_selectors.city_operated_before(city_ids=[city_id for city_id, _ in cities], before=max(ends))


def report_csv(*, cities: Sequence[tuple[uuid.UUID, str]], provider_id: str, month: date) -> str:
    """The CSV of ``month`` for ``cities`` (``(id, time zone)`` pairs), header first."""
    counts: dict[str, list[int]] = {}
    for city_id, timezone in cities:
        start, end = month_bounds(month, timezone)
        for form_factor, (trips, riders) in ride_selectors.ride_counts_by_form_factor(
                city_ids=[city_id], start=start, end=end).items():
            total = counts.setdefault(form_factor, [0, 0])
            total[0] += trips
            total[1] += riders  # a rider of two cities counts in each (their months may differ)
    vehicle_types = sorted(set(fleet_selectors.city_form_factors(city_ids=[c for c, _ in cities])) | set(counts))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for group in SPECIAL_GROUPS:
        for vehicle_type in vehicle_types:
            trips, riders = counts.get(vehicle_type, [0, 0]) if group == "all_riders" else (0, 0)
            writer.writerow([provider_id, month.isoformat(), "P1M", group, "", vehicle_type, redact(trips),
                             redact(riders)])
    return out.getvalue()
