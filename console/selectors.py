"""The dashboard's figures for one city: closed hours from the rollup, the hours after its watermark live from the
rides and billing selectors (normally the current hour only), the fleet and open rides as they are now."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing import selectors as billing_selectors
from console.models import CityHourRollup, RollupWatermark
from fleet import selectors as fleet_selectors
from fleet.models import City
from fleet.states import Status
from rides import selectors as rides_selectors

ZERO = Decimal(0)
OFFLINE = (Status.NON_CONTACTABLE, Status.MISSING)
IN_MAINTENANCE = (Status.MAINTENANCE, Status.IN_WORKSHOP)
_FIELDS = ("rides", "duration_s", "distance_m", "failed_unlocks",
           "charged_net", "charged_vat", "discounts", "refunded_net", "refunded_vat")


@dataclass
class Figures(billing_selectors.MoneySums):
    """Sums over some hours of one city: billing's money sums (gross, discounts, VAT, refunds, net, all positive,
    the same formulas as the finance pages) and the rides' figures."""

    rides: int = 0
    duration_s: int = 0
    distance_m: int = 0
    failed_unlocks: int = 0

    def add(self, row: object) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(self, name) + (getattr(row, name, 0) or 0))

    @property
    def avg_duration_min(self) -> float | None:
        return self.duration_s / self.rides / 60 if self.rides else None

    @property
    def avg_distance_km(self) -> float | None:
        return self.distance_m / self.rides / 1000 if self.rides else None


@dataclass
class Period:
    label: str
    start: datetime
    end: datetime
    figures: Figures = field(default_factory=Figures)
    fleet: int = 0

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86_400

    @property
    def rides_per_vehicle_day(self) -> float | None:
        return self.figures.rides / self.fleet / self.days if self.fleet and self.days else None

    @property
    def trip_share(self) -> float | None:
        """Share of the fleet's time spent on trips (today's fleet, so an estimate for past days)."""
        seconds = self.fleet * (self.end - self.start).total_seconds()
        return self.figures.duration_s / seconds if seconds else None

    @property
    def trip_share_pct(self) -> float | None:
        share = self.trip_share
        return None if share is None else share * 100


@dataclass
class Dashboard:
    city: City
    now: datetime  # in the city's time zone
    periods: list[Period]
    rides_by_hour: list[int]  # today, local hours 0..23
    revenue_by_day: list[tuple[date, Decimal]]  # the last 7 local days, net
    active_rides: int
    vehicles: dict[str, int]
    fleet: int
    live_since: datetime  # hours from here on were computed live


def dashboard(*, city: City, now: datetime) -> Dashboard:
    tz = ZoneInfo(city.timezone)
    local_now = now.astimezone(tz)
    midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday, week = _local_midnight(midnight - timedelta(hours=12)), _local_midnight(midnight - timedelta(days=6))
    # Bounds in UTC: aware datetimes sharing one tzinfo compare and subtract by wall time (wrong across DST).
    now_u, midnight_u, yesterday_u, week_u = (t.astimezone(UTC) for t in (now, midnight, yesterday, week))
    hours = _hours(city, week_u, now_u)
    statuses = fleet_selectors.vehicle_status_counts(city_id=city.id)
    fleet = sum(n for status, n in statuses.items() if status != Status.RETIRED)
    periods = [Period("Today", midnight_u, now_u, fleet=fleet), Period("Yesterday", yesterday_u, midnight_u, fleet=fleet),
               Period("7 days", week_u, now_u, fleet=fleet)]
    rides_by_hour = [0] * 24
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    for hour, figures in hours.items():
        local = hour.astimezone(tz)
        for period in periods:
            if period.start <= hour < period.end:
                period.figures.add(figures)
        if hour >= midnight_u:
            rides_by_hour[local.hour] += figures.rides
        by_day[local.date()] += figures.charged_net - figures.refunded_net
    days = [(week + timedelta(days=i)).date() for i in range(7)]
    return Dashboard(
        city=city, now=local_now, periods=periods, rides_by_hour=rides_by_hour,
        revenue_by_day=[(day, by_day[day]) for day in days],
        active_rides=rides_selectors.rides_open_count(city_id=city.id),
        vehicles={"available": statuses.get(Status.AVAILABLE, 0), "low_battery": statuses.get(Status.LOW_BATTERY, 0),
                  "offline": sum(statuses.get(s, 0) for s in OFFLINE),
                  "maintenance": sum(statuses.get(s, 0) for s in IN_MAINTENANCE)},
        fleet=fleet, live_since=hours.live_since.astimezone(tz),
    )


def _local_midnight(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


class _Hours(dict[datetime, Figures]):
    live_since: datetime


def _hours(city: City, start: datetime, now: datetime) -> _Hours:
    """``{hour: figures}`` of ``[start, now)``: rollup rows before the watermark, then live from the sources."""
    mark = RollupWatermark.objects.filter(city=city).values_list("until", flat=True).first()
    live_since = max(mark, start) if mark else start
    hours = _Hours()
    hours.live_since = live_since
    for row in CityHourRollup.objects.filter(city=city, hour__gte=start, hour__lt=live_since):
        hours.setdefault(row.hour, Figures()).add(row)
    if live_since < now:
        for hour, r in rides_selectors.ride_stats_by_hour(city_id=city.id, timezone=city.timezone,
                                                          start=live_since, end=now).items():
            hours.setdefault(hour, Figures()).add(r)
        for hour, m in billing_selectors.revenue_by_hour(city_id=city.id, timezone=city.timezone,
                                                         start=live_since, end=now).items():
            hours.setdefault(hour, Figures()).add(m)
    return hours
