"""The ride page (rides.admin): the track on a map with start, end and where it entered or left a zone, the fare as
a table, the ride's payments and a link to the rider's receipt, each for the roles that may read them."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from billing import fares
from billing.services import rides as billing_rides
from rides.models import Ride, RideState, RideTrackPoint
from tests.accounts.factories import UserFactory
from tests.fleet.factories import ZoneFactory, square
from tests.fleet.test_permissions import member
from tests.rides.conftest import add_card

pytestmark = pytest.mark.django_db
SNAPSHOT = fares.TariffSnapshot(tariff_id="t", version=1, currency="EUR", unlock_fee=Decimal("1.00"),
                                brackets=(fares.PriceBracket(0, Decimal("0.20")),), vat_rate=Decimal("0.19"))


def page_url(ride: Ride) -> str:
    return f"/admin/rides/ride/{ride.pk}/change/"


def as_role(role: str) -> Client:
    client = Client()
    client.force_login(member(role))
    return client


def map_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="ride-map-data" type="application/json">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def a_ride(vehicle: Any, *, ended: bool = True, track: bool = True) -> Ride:
    """A 10-minute ride east along 52.525 N from 13.390 to 13.420 E, through the no-parking square 13.40-13.41."""
    now = timezone.now()
    started = now - timedelta(minutes=20)
    rider = UserFactory.create()
    ride = Ride.objects.create(
        rider=rider, vehicle=vehicle, vehicle_type=vehicle.vehicle_type, city=vehicle.city, currency="EUR",
        tariff=SNAPSHOT.to_json(), state=RideState.ENDED if ended else RideState.ACTIVE,
        started_at=started, ended_at=now - timedelta(minutes=10) if ended else None,
        start_lat=52.525, start_lon=13.390, end_lat=52.525 if ended else None, end_lon=13.420 if ended else None)
    if track:
        RideTrackPoint.objects.bulk_create([
            RideTrackPoint(ride=ride, at=started + timedelta(seconds=20 * i), lat=52.525, lon=13.390 + 0.001 * i)
            for i in range(31)])
    return ride


def charge(ride: Ride) -> fares.Fare:
    """Hold and final charge through billing (card rider), with 3 minutes from a minute pack."""
    add_card(ride.rider)
    billing_rides.ride_hold_place(rider=ride.rider, ride_id=ride.id, amount=Decimal("5.00"), currency="EUR")
    fare = fares.compute_fare(SNAPSHOT, fares.RideUsage(riding_seconds=600),
                              fares.Benefits(minute_pack_minutes_available=3))
    billing_rides.ride_charge_final(ride_id=ride.id, fare=fare, city=ride.city)
    Ride.objects.filter(pk=ride.pk).update(fare=fare.to_json(), fare_total=fare.total)
    return fare


@pytest.fixture
def no_parking(city: Any) -> Any:
    return ZoneFactory.create(city=city, kind="no_parking", name="Mitte no parking", priority=10,
                              geometry=square(13.40, 52.52, 0.01))


def test_the_track_its_start_end_and_zone_crossings(vehicle: Any, no_parking: Any) -> None:
    ride = a_ride(vehicle)
    html = as_role("field_technician").get(page_url(ride)).content.decode()
    data = map_data(html)
    assert len(data["track"]) == 31 and data["track"][0] == [52.525, 13.39]
    kinds = [m["kind"] for m in data["markers"]]
    assert kinds == ["start", "enter", "leave", "end"]
    enter, leave = data["markers"][1:3]
    assert enter["lon"] == pytest.approx(13.400) and leave["lon"] == pytest.approx(13.411)
    assert enter["label"].startswith("Entered Mitte no parking (no parking)")
    assert sorted(f["properties"]["kind"] for f in data["zones"]["features"]) == ["no_parking", "operating_area"]
    assert "<td>entered</td><td>Mitte no parking</td>" in html and "<td>left</td><td>Mitte no parking</td>" in html
    assert "Started in: " in html


def test_the_fare_is_a_table_with_vat_discounts_and_pass_minutes(vehicle: Any) -> None:
    ride = a_ride(vehicle)
    fare = charge(ride)
    html = as_role("support_agent").get(page_url(ride)).content.decode()
    assert '<table class="fw-table fw-fare">' in html
    for line in fare.lines:
        assert f"<td>{line.description}</td>" in html
    assert "Total (incl. VAT 19 %)" in html and f'<td class="fw-num">{fare.total:.2f}</td>' in html
    assert f'of which VAT</th><td class="fw-num">{fare.vat_amount:.2f}</td>' in html
    assert f'Pass minutes used</th><td class="fw-num">{fare.minutes_from_pack_used}</td>' in html
    assert fare.minutes_from_pack_used == 3 and fare.discounts > 0
    assert f'Discounts</th><td class="fw-num">−{fare.discounts:.2f}</td>' in html


def test_payments_and_the_receipt_for_staff_who_may_read_them(vehicle: Any) -> None:
    ride = a_ride(vehicle)
    charge(ride)
    support = as_role("support_agent")
    html = support.get(page_url(ride)).content.decode()
    assert "<td>Ride Hold</td><td>Captured</td>" in html  # the card hold, captured for the fare
    receipt = f"/api/v1/billing/rides/{ride.pk}/receipt.html"
    assert f'href="{receipt}"' in html
    assert support.get(receipt).status_code == 200  # the link works for this staff member
    technician = as_role("field_technician").get(page_url(ride)).content.decode()
    assert "<td>Ride Hold</td>" not in technician and receipt not in technician  # no billing permission


def test_an_open_ride_without_track_or_fare_says_so(vehicle: Any) -> None:
    ride = a_ride(vehicle, ended=False, track=False)
    html = as_role("support_agent").get(page_url(ride)).content.decode()
    assert "No track recorded: the vehicle sent no position during this ride yet." in html
    assert "No fare yet: it is worked out when the ride ends" in html
    assert 'id="ride-map-data"' not in html


def test_the_ride_page_is_in_the_citys_time(vehicle: Any) -> None:
    user = member("support_agent")
    user.time_zone = "Asia/Tokyo"
    user.save(update_fields=["time_zone"])
    client = Client()
    client.force_login(user)
    ride = a_ride(vehicle)
    started = timezone.localtime(ride.started_at, timezone=ZoneInfo("Europe/Berlin"))
    html = client.get(page_url(ride)).content.decode()
    assert "Times in Europe/Berlin, this city's zone" in html and f"{started:%H:%M:%S}" in html
    assert "Times in Asia/Tokyo" in client.get("/admin/rides/ride/").content.decode()


def test_a_ride_that_does_not_exist_is_the_admins_usual_answer(vehicle: Any) -> None:
    client = as_role("support_agent")
    assert client.get(f"/admin/rides/ride/{uuid.uuid4()}/change/").status_code == 302  # "doesn't exist" redirect
    assert client.get("/admin/rides/ride/not-a-uuid/change/").status_code == 302
