"""The admin home's KPI dashboard (console): figures against the ledger and the rides table, rollups, permissions."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from accounts import demo as accounts_demo
from accounts.services import roles
from billing import demo as billing_demo
from billing.fares.engine import compute_fare
from billing.fares.types import PriceBracket, RideUsage, TariffSnapshot
from billing.models import LedgerEntry
from billing.services import refunds
from billing.services import rides as billing_rides
from console import selectors, services
from console.models import CityHourRollup, RollupWatermark
from fleet import demo as fleet_demo
from fleet.states import Status
from rides import demo as rides_demo
from rides.models import Ride, RideState
from tests.accounts.factories import UserFactory
from tests.billing.conftest import add_card
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db

TARIFF = TariffSnapshot(tariff_id="t-dash", version=1, currency="EUR", unlock_fee=Decimal("1.00"),
                        brackets=(PriceBracket(0, Decimal("0.30")),), ride_cap=Decimal("6.00"),
                        vat_rate=Decimal("0.19"))


def _midday_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now: the generated day has hours on both sides of now."""
    offset = 12 - now.astimezone(UTC).hour  # UTC+offset, -11..12; Etc/GMT names have the sign reversed
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


class Day:
    """A generated day in a city: rides (one across midnight), charges with a capped fare, a refund, a failed
    unlock, an open ride, and vehicles in several states."""

    def __init__(self, now: datetime) -> None:
        self.city = CityFactory.create(slug=f"dash-{uuid.uuid4().hex[:6]}", timezone=_midday_zone(now))
        tz = ZoneInfo(self.city.timezone)
        self.midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        self.vehicle_type = VehicleTypeFactory.create()
        statuses = [Status.AVAILABLE] * 4 + [Status.LOW_BATTERY, Status.NON_CONTACTABLE, Status.MISSING,
                                              Status.MAINTENANCE, Status.IN_WORKSHOP, Status.RETIRED]
        self.vehicles = [VehicleFactory.create(city=self.city, vehicle_type=self.vehicle_type, status=s)
                         for s in statuses]
        m = self.midnight
        self.ride(m - timedelta(minutes=50), m - timedelta(minutes=20), minutes=30)  # yesterday
        self.across = self.ride(m - timedelta(minutes=10), m + timedelta(minutes=20), minutes=30)  # ends today
        self.ride(m + timedelta(hours=8), m + timedelta(hours=8, minutes=10), minutes=10)
        self.refunded = self.ride(m + timedelta(hours=9), m + timedelta(hours=9, minutes=30), minutes=30)
        refunds.refund_ride(ride_id=self.refunded.id, amount=Decimal("2.38"), reason="brakes", actor=None)
        self.failed = self.ride(m + timedelta(hours=10), m + timedelta(hours=10, minutes=1), state=RideState.CANCELLED)
        self.ride(m + timedelta(hours=11), None, state=RideState.ACTIVE)

    def ride(self, start: datetime, end: datetime | None, *, minutes: int = 0,
             state: str = RideState.ENDED) -> Ride:
        rider = UserFactory.create()
        fare = compute_fare(TARIFF, RideUsage(riding_seconds=minutes * 60)) if state == RideState.ENDED else None
        ride = Ride.objects.create(
            rider=rider, vehicle=self.vehicles[Ride.objects.count() % 4], vehicle_type=self.vehicle_type,
            city=self.city, state=state, tariff=TARIFF.to_json(), currency="EUR", created_at=start,
            started_at=None if state == RideState.CANCELLED else start, ended_at=end,
            duration_s=minutes * 60 if fare else None, distance_m=minutes * 200 if fare else None,
            fare=fare.to_json() if fare else None, fare_total=fare.total if fare else None)
        if fare is not None:  # charged through billing, as rides.services does at the end of a ride
            add_card(rider)
            billing_rides.ride_hold_place(rider=rider, ride_id=ride.id, amount=Decimal("10.00"), currency="EUR")
            billing_rides.ride_charge_final(ride_id=ride.id, fare=fare, city=self.city)
        return ride


def _ledger(city: Any) -> dict[str, Decimal]:
    """What the books say, summed straight from the entries (every charge and refund here is today's)."""
    def total(**filters: Any) -> Decimal:
        return LedgerEntry.objects.filter(**filters).aggregate(s=Sum("amount"))["s"] or Decimal(0)

    revenue = -total(account__code=f"revenue:{city.slug}:EUR")
    vat = -total(account__code=f"vat_payable:{city.slug}:EUR")
    rides = Ride.objects.filter(city=city).values("id")  # refunds are booked currency-wide: pick the city's rides
    refunded_net = total(account__code="refunds:EUR", transaction__ride_id__in=rides)
    refunded_vat = total(account__code="vat_payable:EUR", transaction__kind="refund", transaction__ride_id__in=rides)
    return {"net": revenue - refunded_net, "vat": vat - refunded_vat, "refunds": refunded_net + refunded_vat}


def _check_today(board: selectors.Dashboard, day: Day) -> None:
    today, yesterday, week = board.periods
    ended = Ride.objects.filter(city=day.city, state=RideState.ENDED)
    ended_today = ended.filter(ended_at__gte=day.midnight)
    assert today.figures.rides == ended_today.count() == 3  # the ride across midnight counts on the day it ended
    assert yesterday.figures.rides == ended.filter(ended_at__lt=day.midnight).count() == 1
    assert week.figures.rides == 4
    assert today.figures.duration_s == ended_today.aggregate(s=Sum("duration_s"))["s"]
    assert today.figures.distance_m == ended_today.aggregate(s=Sum("distance_m"))["s"]
    assert today.figures.failed_unlocks == 1
    books = _ledger(day.city)
    money = week.figures  # every ledger posting was booked today
    assert (money.net, money.vat, money.refunds) == (books["net"], books["vat"], books["refunds"])
    fares = [r.fare or {} for r in ended]
    assert money.discounts == sum((Decimal(f["discounts"]) for f in fares), Decimal(0)) == Decimal("12.00")
    assert money.gross == sum((Decimal(f["subtotal"]) for f in fares), Decimal(0))
    assert money.gross - money.discounts - money.refunds == money.net + money.vat  # nothing lost between them
    assert money.net > 0 and money.refunds == Decimal("2.38")
    assert board.active_rides == 1
    assert board.vehicles == {"available": 4, "low_battery": 1, "offline": 2, "maintenance": 2}
    assert board.fleet == 9  # the retired vehicle is not in the fleet
    assert sum(board.rides_by_hour) == 3 and board.rides_by_hour[0] == 1 and board.rides_by_hour[8] == 1


def test_dashboard_matches_the_ledger_and_the_rides_table_live_and_from_rollups(django_assert_max_num_queries):
    now = timezone.now()
    day = Day(now)
    Day(now)  # another city with the same kind of day: its rides, charges and refund must not count here
    _check_today(selectors.dashboard(city=day.city, now=timezone.now()), day)  # no rollup yet: all live

    services.rollup_rebuild(since=now - timedelta(days=8))
    mark = RollupWatermark.objects.get(city=day.city).until
    assert mark == services.hour_floor(timezone.now(), day.city.timezone)
    assert CityHourRollup.objects.filter(city=day.city).count() >= 4
    # rollup rows, the live hour (its refunds, then their rides' charges by ride id), fleet counts, open rides
    with django_assert_max_num_queries(8):
        board = selectors.dashboard(city=day.city, now=timezone.now())
    _check_today(board, day)
    assert board.live_since.astimezone(UTC) == mark


def test_closed_hours_come_from_the_rollup_and_the_beat_picks_up_late_rows():
    now = timezone.now()
    day = Day(now)
    services.rollups_refresh()
    # A ride committed late into an hour already rolled up (ended two hours ago): not yet on the page...
    late = day.ride(now - timedelta(hours=2, minutes=30), now - timedelta(hours=2), state=RideState.CANCELLED)
    board = selectors.dashboard(city=day.city, now=timezone.now())
    assert board.periods[0].figures.failed_unlocks == 1
    # ...and there once the beat re-runs (it rebuilds CONSOLE_ROLLUP_LOOKBACK_HOURS before the watermark).
    services.rollups_refresh()
    board = selectors.dashboard(city=day.city, now=timezone.now())
    assert board.periods[0].figures.failed_unlocks == 2
    assert late.ended_at is not None


def test_rollup_rebuild_is_idempotent():
    now = timezone.now()
    day = Day(now)

    def rows() -> list[tuple[Any, ...]]:
        return list(CityHourRollup.objects.filter(city=day.city).order_by("hour").values_list(
            "hour", "rides", "duration_s", "distance_m", "failed_unlocks", "charged_net", "charged_vat",
            "discounts", "refunded_net", "refunded_vat"))

    first = services.rollup_rebuild(since=now - timedelta(days=8))
    before = rows()
    assert first == len(before) >= 4
    assert services.rollup_rebuild(since=now - timedelta(days=8)) == first
    assert services.rollup_rebuild(since=now - timedelta(days=2), until=now - timedelta(hours=3)) >= 1
    services.rollups_refresh()
    assert rows() == before


def _staff(role: str) -> Any:
    roles.roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.parametrize(("role", "sees_money"), [("support_agent", False), ("fleet_manager", False),
                                                  ("finance", True), ("admin", True)])
def test_only_those_who_read_the_ledger_see_money(client, role, sees_money):
    day = Day(timezone.now())
    client.force_login(_staff(role))
    page = client.get("/admin/", {"city": day.city.slug}).content.decode()
    assert "Failed unlocks" in page and day.city.name in page
    local = timezone.now().astimezone(ZoneInfo(day.city.timezone))
    assert f"{local:%A} {local.day} {local:%B}, {local:%H}:" in page  # the city's time, not the server's
    assert ("Net revenue" in page) is sees_money
    assert ("Net revenue per day" in page) is sees_money


def test_the_page_renders_for_a_superuser_with_demo_data(client, django_assert_max_num_queries):
    out = io.StringIO()
    for module in (accounts_demo, fleet_demo, billing_demo, rides_demo):
        module.load(stdout=out)
    Day(timezone.now())  # a second city: the picker shows both
    services.rollups_refresh()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    with django_assert_max_num_queries(25):
        r = client.get("/admin/")
    page = r.content.decode()
    assert r.status_code == 200
    assert 'name="city"' in page and "Rides per hour, today" in page and "<svg" in page
    assert "Net revenue" in page and 'id="content-main"' in page and "Vehicle types" in page  # the stock index is still below
    assert "style=" not in page.split('class="console-dashboard"')[1].split("</section>")[0]  # CSP: no inline style


def test_an_unknown_city_falls_back_to_the_first_and_no_city_shows_an_empty_state(client):
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    assert "No city yet" in client.get("/admin/").content.decode()
    day = Day(timezone.now())
    assert day.city.name in client.get("/admin/", {"city": "nowhere"}).content.decode()


def test_rollup_rebuild_command(capsys):
    day = Day(timezone.now())
    call_command("rollup_rebuild", "--since", (timezone.now() - timedelta(days=2)).date().isoformat(),
                 "--city", day.city.slug)
    assert "rollups rebuilt:" in capsys.readouterr().out
    assert CityHourRollup.objects.filter(city=day.city).exists()
    with pytest.raises(CommandError, match="unknown city: nowhere"):
        call_command("rollup_rebuild", "--since", "2026-12-01", "--city", "nowhere")
    with pytest.raises(CommandError, match="not an ISO 8601"):
        call_command("rollup_rebuild", "--since", "yesterday")
