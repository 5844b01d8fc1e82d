"""MDS /reports/YYYY-MM.csv: monthly counts per special group and vehicle type, under 10 (0 included) as -1."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from feeds.mds import reports
from tests.accounts.factories import UserFactory
from tests.feeds import mds_data
from tests.feeds.mds_data import PROVIDER
from tests.fleet.factories import CityFactory, VehicleFactory, VehicleTypeFactory

pytestmark = pytest.mark.django_db

HEADER = "provider_id,start_date,duration,special_group_type,geography_id,vehicle_type,trip_count,rider_count"
NOVEMBER = date(2026, 11, 1)


@pytest.fixture
def city() -> Any:
    return CityFactory.create(slug="berlin", timezone="Europe/Berlin")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_counts_per_vehicle_type_with_small_counts_redacted(city: Any) -> None:
    scooter = VehicleFactory.create(city=city, vehicle_type=VehicleTypeFactory.create(code="s"))
    bike = VehicleFactory.create(city=city, vehicle_type=VehicleTypeFactory.create(
        code="b", form_factor="bicycle", propulsion_type="electric_assist"))
    riders = [UserFactory.create() for _ in range(4)]
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    for i in range(12):  # 12 scooter trips by 4 riders
        at = start + timedelta(hours=i)
        mds_data.ride(scooter, riders[i % 4], start=at, end=at + timedelta(minutes=10))
    for i in range(3):  # 3 bicycle trips
        at = start + timedelta(days=1, hours=i)
        mds_data.ride(bike, riders[0], start=at, end=at + timedelta(minutes=10))
    # Counted by local start: 23:30 UTC on 31 October is 00:30 on 1 November in Berlin; the last one is December.
    mds_data.ride(scooter, riders[0], start=datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
                  end=datetime(2026, 10, 31, 23, 40, tzinfo=UTC))
    mds_data.ride(scooter, riders[0], start=datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
                  end=datetime(2026, 11, 30, 23, 40, tzinfo=UTC))
    mds_data.ride(scooter, riders[1], start=start + timedelta(days=3), end=start + timedelta(days=3, minutes=1),
                  cancel=True)  # never unlocked: not a trip taken

    text = reports.report_csv(cities=[(city.id, city.timezone)], provider_id=PROVIDER, month=NOVEMBER)

    assert text.splitlines()[0] == HEADER
    assert re.match(r"^provider_id,start_date", text)  # models/report.yaml's pattern
    rows = {(r["special_group_type"], r["vehicle_type"]): r for r in _rows(text)}
    assert set(rows) == {(g, v) for g in ("all_riders", "low_income", "adaptive_scooter")
                         for v in ("bicycle", "scooter_standing")}
    scooters = rows[("all_riders", "scooter_standing")]
    assert (scooters["trip_count"], scooters["rider_count"]) == ("13", "-1")  # 4 riders: under 10
    assert (rows[("all_riders", "bicycle")]["trip_count"], rows[("all_riders", "bicycle")]["rider_count"]) == ("-1", "-1")
    assert {(r["trip_count"], r["rider_count"]) for k, r in rows.items() if k[0] != "all_riders"} == {("-1", "-1")}
    assert {(r["provider_id"], r["start_date"], r["duration"], r["geography_id"]) for r in rows.values()} == {
        (PROVIDER, "2026-11-01", "P1M", "")}


def test_zero_is_written_minus_one_and_ten_is_not() -> None:
    assert [reports.redact(n) for n in (0, 1, 9, 10, 11)] == [-1, -1, -1, 10, 11]


def test_another_citys_trips_are_not_counted(city: Any) -> None:
    VehicleFactory.create(city=city)
    other = VehicleFactory.create(city=CityFactory.create(slug="paris", timezone="Europe/Paris"))
    rider = UserFactory.create()
    for i in range(10):
        at = datetime(2026, 11, 3, 8, tzinfo=UTC) + timedelta(hours=i)
        mds_data.ride(other, rider, start=at, end=at + timedelta(minutes=5))
    rows = _rows(reports.report_csv(cities=[(city.id, city.timezone)], provider_id=PROVIDER, month=NOVEMBER))
    assert {r["trip_count"] for r in rows} == {"-1"}


def test_a_report_exists_for_operated_months_that_are_over(city: Any) -> None:
    cities = [(city.id, city.timezone)]
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert not reports.report_available(cities=cities, month=NOVEMBER, now=now)  # never operated
    vehicle = VehicleFactory.create(city=city)
    at = datetime(2026, 10, 15, 8, tzinfo=UTC)
    mds_data.ride(vehicle, UserFactory.create(), start=at, end=at + timedelta(minutes=5))
    assert reports.report_available(cities=cities, month=NOVEMBER, now=now)
    assert reports.report_available(cities=cities, month=date(2026, 10, 1), now=now)
    assert not reports.report_available(cities=cities, month=date(2026, 9, 1), now=now)  # before the first event
    assert not reports.report_available(cities=cities, month=date(2026, 12, 1), now=now)  # not over
    # November ends at 23:00 UTC on 30 November in Berlin.
    assert not reports.report_available(cities=cities, month=NOVEMBER, now=datetime(2026, 11, 30, 22, 59, tzinfo=UTC))
    assert reports.report_available(cities=cities, month=NOVEMBER, now=datetime(2026, 11, 30, 23, 0, tzinfo=UTC))


# --- Through HTTP: /mds/reports/YYYY-MM.csv ------------------------------------------------------------------------


def test_http_report_is_mds_csv(mds_client: Any, mds_city: Any, other_city: Any) -> None:
    vehicle = VehicleFactory.create(city=mds_city)
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    mds_data.ride(vehicle, UserFactory.create(), start=start, end=start + timedelta(minutes=5))

    r = mds_client.get("/mds/reports/2026-11.csv", HTTP_ACCEPT="text/vnd.mds+csv;version=2.0")

    assert (r.status_code, r["Content-Type"]) == (200, "text/vnd.mds+csv;version=2.0")
    text = r.content.decode()
    assert text.splitlines()[0] == HEADER
    rows = _rows(text)
    assert {r["vehicle_type"] for r in rows} == {"scooter_standing"}  # the other city's vehicles are not counted
    assert {(r["trip_count"], r["rider_count"]) for r in rows} == {("-1", "-1")}  # one trip: under 10


def test_http_report_404_for_a_month_not_over_or_not_operated(mds_client: Any, mds_city: Any) -> None:
    vehicle = VehicleFactory.create(city=mds_city)
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    mds_data.ride(vehicle, UserFactory.create(), start=start, end=start + timedelta(minutes=5))
    this_month = timezone.now().strftime("%Y-%m")
    for name in (f"{this_month}.csv", "2026-10.csv", "2026-13.csv", "2026-11", "november.csv", "x"):
        r = mds_client.get(f"/mds/reports/{name}")
        assert (r.status_code, r["Content-Type"]) == (404, "application/vnd.mds+json;version=2.0"), name
        assert r.json()["error"] == "report_not_found", name
    r = mds_client.get("/mds/reports/2026-11.csv", HTTP_ACCEPT="text/vnd.mds+csv;version=1.0")
    assert (r.status_code, r.json()["error"]) == (406, "unsupported_version")
