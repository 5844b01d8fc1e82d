"""What staff see on every admin page (docs/admin.md): plurals that read right, times in local time, JSON as
tables, helpful empty states, and every list and detail page of every registered model answering."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from core import admin as core_admin
from fleet.models import City, OpsAlert, OpsAlertKind, OpsAlertSeverity
from rides.models import Ride
from tests.fleet.factories import CityFactory, VehicleFactory

NAIVE_PLURAL = re.compile(r"(s|x|z|ch|sh|[^aeiou]y)s$")


def naive_plural(verbose_name: str, verbose_name_plural: str) -> bool:
    """The plural Django makes when none is given (name + "s"), where English wants -es or -ies."""
    return verbose_name_plural == f"{verbose_name}s" and NAIVE_PLURAL.search(verbose_name_plural) is not None


def test_the_plural_rule_catches_the_naive_s() -> None:
    assert naive_plural("rider pass", "rider passs")
    assert naive_plural("ledger entry", "ledger entrys")
    assert naive_plural("tax", "taxs") and naive_plural("batch", "batchs")
    assert not naive_plural("rider pass", "rider passes")
    assert not naive_plural("ledger entry", "ledger entries")
    assert not naive_plural("key", "keys") and not naive_plural("city ride settings", "city ride settings")


def test_every_model_has_a_plural_that_reads_right() -> None:
    wrong = [f"{m._meta.label}: {m._meta.verbose_name_plural}" for m in apps.get_models()
             if naive_plural(str(m._meta.verbose_name), str(m._meta.verbose_name_plural))]
    assert wrong == []


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser(email="boss@example.com", password="x" * 12)


@pytest.fixture
def boss(client: Client, superuser: User) -> Client:
    client.force_login(superuser)
    return client


def registered_models() -> list[type[Any]]:
    return [model for model in apps.get_models() if admin.site.is_registered(model)]


@pytest.mark.django_db
def test_every_changelist_and_change_page_answers_for_a_superuser_with_demo_data(
        boss: Client, superuser: User, settings: Any) -> None:
    settings.DEBUG = True  # demo_data runs only with DEBUG on (pytest-django turns it off)
    call_command("demo_data", "--force", verbosity=0)
    models = registered_models()
    assert len(models) > 30
    change_pages = 0
    for model in models:
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = boss.get(changelist)
        assert response.status_code == 200, changelist
        row = model._default_manager.order_by("pk").first()
        if row is None:
            continue
        change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
        assert boss.get(change).status_code == 200, change
        change_pages += 1
        if admin.site.get_model_admin(model).has_add_permission(response.wsgi_request):
            add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
            assert boss.get(add).status_code == 200, add
    assert change_pages > 20  # the demo fills most tables: the detail pages really were rendered


# --- local time -------------------------------------------------------------------------------------------

AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # 9:30 in Berlin (CET), 3:30 in New York


@pytest.fixture
def berlin_vehicle(db: Any) -> Any:
    return VehicleFactory.create(code="TZ0001", city=CityFactory.create(slug="berlin", timezone="Europe/Berlin"),
                                 position_at=AT)


@pytest.mark.django_db
def test_times_show_in_the_only_citys_zone_on_a_changelist_and_a_change_page(boss: Client, berlin_vehicle: Any) -> None:
    listing = boss.get("/admin/fleet/vehicle/").content.decode()
    page = boss.get(f"/admin/fleet/vehicle/{berlin_vehicle.pk}/change/").content.decode()
    for html in (listing, page):
        assert "Dec. 7, 2026, 9:30 a.m." in html
        assert "8:30 a.m." not in html
        assert "Times in Europe/Berlin" in html


@pytest.mark.django_db
def test_a_staff_members_own_zone_wins_then_the_setting_then_utc_with_several_cities(
        boss: Client, superuser: User, berlin_vehicle: Any, settings: Any) -> None:
    # Lists (a vehicle's page is in its city's zone: test_object_pages_show_their_citys_time)
    superuser.time_zone = "America/New_York"
    superuser.save(update_fields=["time_zone"])
    assert "3:30 a.m." in boss.get("/admin/fleet/vehicle/").content.decode()

    superuser.time_zone = ""
    superuser.save(update_fields=["time_zone"])
    settings.OPS_TIME_ZONE = "Europe/Lisbon"  # UTC+0 in winter
    assert "8:30 a.m." in boss.get("/admin/fleet/vehicle/").content.decode()

    settings.OPS_TIME_ZONE = ""
    CityFactory.create(slug="lisbon", timezone="Europe/Lisbon")
    html = boss.get("/admin/fleet/vehicle/").content.decode()
    assert "8:30 a.m." in html and "Times in UTC" in html


@pytest.mark.django_db
def test_the_admins_zone_ends_with_its_request(
        boss: Client, superuser: User, berlin_vehicle: Any) -> None:
    superuser.time_zone = "America/New_York"
    superuser.save(update_fields=["time_zone"])
    assert "Times in America/New_York" in boss.get("/admin/").content.decode()
    assert timezone.get_current_timezone_name() == "UTC"  # activated for the request, not left behind



@pytest.mark.django_db
def test_a_time_zone_that_does_not_exist_is_refused_on_the_user_page(boss: Client, superuser: User) -> None:
    url = f"/admin/accounts/user/{superuser.pk}/change/"
    form = boss.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k not in ("groups", "user_permissions",
                                                                                  "password")}
    data |= {"email": superuser.email, "time_zone": "Mars/Olympus"}
    response = boss.post(url, data)
    assert response.status_code == 200 and "is not an IANA time zone" in response.content.decode()
    superuser.refresh_from_db()
    assert superuser.time_zone == ""


# --- readable JSON ------------------------------------------------------------------------------------------

def test_json_display_renders_objects_and_lists_of_objects_as_escaped_tables() -> None:
    html = str(core_admin.json_display({"lines": [{"label": "Unlock", "amount": "1.00"},
                                                  {"label": "<b>Minutes</b>", "amount": "2.50"}],
                                        "vat": {"rate": "19", "included": True}, "note": None, "net_amount": "3.19"}))
    assert html.startswith('<table class="fw-json">')
    assert '<th scope="col">label</th><th scope="col">amount</th>' in html
    assert "<td>Unlock</td><td>1.00</td>" in html
    assert "&lt;b&gt;Minutes&lt;/b&gt;" in html and "<b>" not in html
    assert '<th scope="row">included</th><td>yes</td>' in html
    assert '<th scope="row">net amount</th><td>3.19</td>' in html
    assert str(core_admin.json_display([1, 2, 3])) == "1, 2, 3"


@pytest.mark.django_db
def test_a_rides_tariff_and_fare_are_tables_not_dumps(boss: Client, settings: Any) -> None:
    settings.DEBUG = True
    call_command("demo_data", "--force", verbosity=0)
    ride = Ride.objects.filter(fare__isnull=False).first()
    assert ride is not None and ride.fare
    html = boss.get(f"/admin/rides/ride/{ride.pk}/change/").content.decode()
    assert html.count('class="fw-json"') >= 1  # the tariff; the fare is the page's fare table (tests/rides)
    assert '<table class="fw-table fw-fare">' in html
    assert all(line["description"] in html for line in ride.fare["lines"])
    dump = json.dumps(ride.fare)[:40]
    assert dump.replace('"', "&quot;") not in html and dump not in html


@pytest.mark.django_db
def test_an_alerts_data_is_a_table_on_its_page(boss: Client, berlin_vehicle: Any) -> None:
    alert = OpsAlert.objects.create(vehicle=berlin_vehicle, city=berlin_vehicle.city, kind=OpsAlertKind.TAMPER,
                                    severity=OpsAlertSeverity.choices[0][0], message="moved while locked",
                                    data={"speed_kph": 12, "zones": ["mitte", "wedding"]}, opened_at=AT)
    html = boss.get(f"/admin/fleet/opsalert/{alert.pk}/change/").content.decode()
    assert '<th scope="row">speed kph</th><td>12</td>' in html
    assert "<td>mitte, wedding</td>" in html
    assert "&quot;speed_kph&quot;" not in html


# --- empty states ---------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_empty_list_says_what_it_is_for_and_a_filtered_one_how_to_see_all(boss: Client) -> None:
    html = boss.get("/admin/fleet/opsalert/").content.decode()
    assert "No alerts: telemetry opens one" in html
    City.objects.create(slug="x", name="X", timezone="UTC", currency="EUR")
    html = boss.get("/admin/fleet/city/", {"q": "nothing-like-this"}).content.decode()
    assert "Nothing matches these filters or this search." in html and "No city yet" not in html
