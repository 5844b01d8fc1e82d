"""Rollup writes: rebuild a city's hourly figures for a time range from the rides and billing selectors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing import selectors as billing_selectors
from console.models import CityHourRollup, RollupWatermark
from fleet import selectors as fleet_selectors
from fleet.models import City
from rides import selectors as rides_selectors

FIRST_BUILD = timedelta(days=8)  # what the dashboard shows (7 local days) plus a margin


def hour_floor(moment: datetime, timezone_name: str) -> datetime:
    """Start of the city's local hour that contains ``moment``, in UTC."""
    local = moment.astimezone(ZoneInfo(timezone_name))
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def rollup_rebuild(*, since: datetime, until: datetime | None = None,
                   city_ids: Sequence[uuid.UUID] | None = None) -> int:
    """Recompute the closed local hours of ``[since, until)`` (``until`` defaults to now) of every city, or of
    ``city_ids``; returns how many rows were written. Idempotent: each city's range is replaced in one transaction,
    so running it twice, or concurrently with the beat task, leaves the same rows."""
    now = timezone.now()
    written = 0
    for city in fleet_selectors.cities_all():
        if city_ids is None or city.id in city_ids:
            written += _rebuild_city(city, since, min(until or now, now))
    return written


def rollups_refresh() -> int:
    """Beat: rebuild each city from ``CONSOLE_ROLLUP_LOOKBACK_HOURS`` before its watermark (rows committed late,
    e.g. a ride ended inside a long transaction, land in an hour already rolled up), or its last 8 days the first
    time; a beat that stopped for a day catches up from its watermark."""
    now = timezone.now()
    marks = dict(RollupWatermark.objects.values_list("city_id", "until"))
    lookback = timedelta(hours=settings.CONSOLE_ROLLUP_LOOKBACK_HOURS)
    written = 0
    for city in fleet_selectors.cities_all():
        mark = marks.get(city.id)
        written += _rebuild_city(city, (mark - lookback) if mark else now - FIRST_BUILD, now)
    return written


def _rebuild_city(city: City, since: datetime, until: datetime) -> int:
    start, end = hour_floor(since, city.timezone), hour_floor(until, city.timezone)
    if start >= end:
        return 0
    rides = rides_selectors.ride_stats_by_hour(city_id=city.id, timezone=city.timezone, start=start, end=end)
    money = billing_selectors.revenue_by_hour(city_id=city.id, timezone=city.timezone, start=start, end=end)
    rows = []
    for hour in sorted(set(rides) | set(money)):
        r = rides.get(hour)
        m = money.get(hour)
        rows.append(CityHourRollup(
            city=city, hour=hour, rides=r.rides if r else 0, duration_s=r.duration_s if r else 0,
            distance_m=r.distance_m if r else 0, failed_unlocks=r.failed_unlocks if r else 0,
            **(m._asdict() if m else {})))
    with transaction.atomic():
        # The watermark row's lock serialises two rebuilds of one city (the beat and a manual rebuild).
        mark = RollupWatermark.objects.select_for_update().filter(city=city).first()
        CityHourRollup.objects.filter(city=city, hour__gte=start, hour__lt=end).delete()
        CityHourRollup.objects.bulk_create(rows)
        if mark is None:
            RollupWatermark.objects.create(city=city, until=end)
        elif start <= mark.until < end:  # only a contiguous range moves it: no hour before it is left unbuilt
            RollupWatermark.objects.filter(city=city).update(until=end)
    return len(rows)
