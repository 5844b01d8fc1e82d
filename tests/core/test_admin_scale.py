"""core.admin_scale: the changelist count that never reads a whole big table, the "about" it then shows, and
the large tables' indexed search and date filter (docs/admin.md, "Fast at city scale")."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from core.admin_scale import EstimatedCountPaginator, ScaleAdmin, indexed_condition, search_help
from fleet.models import Command, Vehicle, VehicleEvent
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client: Client) -> Client:
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="x" * 12))
    return client


def _events(vehicle: Any, n: int) -> None:
    from django.utils import timezone

    now = timezone.now()
    VehicleEvent.objects.bulk_create(
        VehicleEvent(vehicle=vehicle, vehicle_state="available", event_types=["located"], status="available",
                     previous_status="available", timestamp=now, actor_kind="system") for _ in range(n))


def test_a_small_list_is_counted_exactly_and_a_big_one_is_estimated_without_a_full_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    vehicle = VehicleFactory()
    _events(vehicle, 30)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 50)
    small = EstimatedCountPaginator(VehicleEvent.objects.all(), 10)
    assert (small.count, small.estimated) == (30, False)
    _events(vehicle, 40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE fleet_vehicleevent")
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 20)
    big = EstimatedCountPaginator(VehicleEvent.objects.all(), 10)
    with CaptureQueriesContext(connection) as queries:
        count = big.count
    assert big.estimated and count >= 21
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 21" in counts[0]  # the only count stops at the limit
    assert any(q["sql"].startswith("EXPLAIN") for q in queries)


def test_the_changelist_says_about_when_the_count_is_an_estimate(
        boss: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    _events(VehicleFactory(), 30)
    url = reverse("admin:fleet_vehicleevent_changelist")
    assert "fw-estimate" not in boss.get(url).content.decode()
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 10)
    page = boss.get(url).content.decode()
    assert re.search(r"(about [\d,]+|more than 10) results", page)  # the search box
    assert re.search(r'class="fw-estimate"[^>]*>(about [\d,]+|more than 10)</span> vehicle events', page)


def _registered_admins() -> list[tuple[Any, admin.ModelAdmin[Any]]]:
    """Every model of the admin site with its ModelAdmin, through the site's public API."""
    return [(m, admin.site.get_model_admin(m)) for m in apps.get_models() if admin.site.is_registered(m)]


def test_every_registered_admin_counts_with_the_estimating_paginator() -> None:
    slow = [f"{m._meta.label}" for m, a in _registered_admins()
            if isinstance(a, ScaleAdmin) and (a.paginator is not EstimatedCountPaginator or a.show_full_result_count)]
    assert slow == []


def test_large_table_search_uses_exact_ids_and_prefixes_through_relations() -> None:
    vehicle = VehicleFactory(code="ABCD1234")
    other = VehicleFactory(code="ZZZZ9999")
    _events(vehicle, 3)
    _events(other, 2)
    condition = indexed_condition(VehicleEvent, "vehicle__code", "abcd")
    assert condition is not None and VehicleEvent.objects.filter(condition).count() == 3
    assert indexed_condition(VehicleEvent, "=trip_id", "not-a-uuid") is None
    trip = uuid.uuid4()
    by_trip = indexed_condition(VehicleEvent, "=trip_id", str(trip))
    assert by_trip is not None and by_trip.children == [("trip_id", trip)]
    assert VehicleEvent.objects.filter(indexed_condition(VehicleEvent, "vehicle__code", "BCD")).count() == 0
    assert search_help(Command, ["vehicle__code", "=correlation_id"]) == (
        "Search by vehicle code (beginning), correlation id (exact); large table: no search inside a text, at most "
        "the newest 1,000 matches of each.")


def test_large_table_changelist_search_filter_and_date_filter_answer(boss: Client) -> None:
    vehicle = VehicleFactory(code="ABCD1234")
    _events(vehicle, 3)
    _events(VehicleFactory(code="ZZZZ9999"), 2)
    model_admin: Any = admin.site.get_model_admin(VehicleEvent)
    assert model_admin.large_table and model_admin.date_hierarchy is None
    url = reverse("admin:fleet_vehicleevent_changelist")
    page = boss.get(url, {"q": "abcd12"}).content.decode()
    assert page.count("ABCD1234") >= 3 and "ZZZZ9999" not in page
    assert "Search by vehicle code (beginning)" in page
    assert boss.get(url, {"q": "1234"}).content.decode().count("ABCD1234") == 0  # not inside a code
    links = re.findall(r'href="(\?timestamp__gte=[^"]+)"', boss.get(url).content.decode())
    assert links  # the date hierarchy became a date filter
    assert boss.get(url + html.unescape(links[0])).content.decode().count("ABCD1234") == 3  # "Today"


def _leading_index_columns(model: type[Any]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("""SELECT a.attname FROM pg_index i
                          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                          WHERE i.indrelid = %s::regclass""", [model._meta.db_table])
        return {row[0] for row in cursor.fetchall()}


def test_every_value_filter_of_a_large_table_reads_an_index() -> None:
    """A loose index scan needs an index that starts with the field; without one each value is a table scan."""
    from core.admin_scale import IndexedValuesFilter

    missing = []
    request = RequestFactory().get("/admin/")
    for model, model_admin in _registered_admins():
        if not getattr(model_admin, "large_table", False):
            continue
        for spec in model_admin.get_list_filter(request):
            if isinstance(spec, tuple) and spec[1] is IndexedValuesFilter:
                column = getattr(model._meta.get_field(str(spec[0])), "column", None)
                if column not in _leading_index_columns(model):
                    missing.append(f"{model._meta.label}.{spec[0]}")
    assert missing == []


def test_the_row_checkbox_is_django_s_own_html() -> None:
    vehicle: Any = VehicleFactory(code="ABCD1234")
    ours = admin.site.get_model_admin(Vehicle).action_checkbox(vehicle)
    django_s = admin.ModelAdmin(Vehicle, admin.site).action_checkbox(vehicle)
    assert ours == django_s


def test_the_count_label_reads_as_an_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fixed(EstimatedCountPaginator):
        exact_limit = 10_000

    def label(count: int, estimated: bool) -> str:
        paginator = Fixed([], 10)
        paginator.__dict__["count"], paginator.estimated = count, estimated
        return paginator.count_label

    assert label(1234, False) == "1,234"
    assert label(10_001, True) == "more than 10,000"
    assert label(10_234_567, True) == "about 10,200,000"
