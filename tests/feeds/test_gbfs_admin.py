"""GBFS systems in the admin: listed, edited with their alerts, who may do what (feeds/roles.py), and the database
refuses what the feed could not publish."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.test import Client

from accounts.services.roles import roles_sync
from feeds.models import GbfsSystem
from tests.accounts.factories import UserFactory
from tests.feeds.gbfs_support import (
    _fresh_feed_cache,  # noqa: F401  (autouse fixture)
    city_with_stations,
)

pytestmark = pytest.mark.django_db
SYSTEMS = "/admin/feeds/gbfssystem/"


@pytest.fixture
def ops(client: Client) -> Client:
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


def test_systems_list_and_change_page_with_alerts(ops: Client) -> None:
    system, _ = city_with_stations()
    page = ops.get(SYSTEMS).content.decode()
    assert system.system_id in page
    change = ops.get(f"{SYSTEMS}{system.id}/change/")
    assert change.status_code == 200
    assert "Hauptbahnhof closed on Sunday" in change.content.decode()  # its alerts, inline
    assert ops.get(f"{SYSTEMS}add/").status_code == 200


@pytest.mark.parametrize("fields", [
    {"android_store_uri": "https://play.google.com/store/apps/details?id=x"},  # no discovery URI
    {"terms_url": "https://example.com/terms"},  # no date
    {"rental_uri": "https://example.com/rent"},  # no {vehicle_id}
])
def test_the_database_refuses_what_the_feed_could_not_publish(fields: dict[str, Any]) -> None:
    system, _ = city_with_stations()
    with pytest.raises(IntegrityError), transaction.atomic():
        GbfsSystem.objects.create(system_id="other", city=system.city, name="Other",
                                  feed_contact_email="gbfs@example.com", **fields)
    assert not GbfsSystem.objects.filter(system_id="other").exists()


def test_every_declared_gbfs_permission_exists() -> None:
    report = roles_sync()
    assert [m for m in report.missing if "gbfs" in m[1]] == []
    assert "feeds.change_gbfssystem" in report.granted["fleet_manager"]


@pytest.mark.parametrize(("role", "view", "change", "add"), [
    ("support_agent", 200, False, 403), ("fleet_manager", 200, True, 403), ("admin", 200, True, 200),
    ("finance", 403, False, 403),
])
def test_who_may_see_edit_and_create_systems(client: Client, role: str, view: int, change: bool, add: int) -> None:
    system, _ = city_with_stations()
    roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    page = client.get(f"{SYSTEMS}{system.id}/change/")
    assert page.status_code == view
    if view == 200:
        assert ('name="_save"' in page.content.decode()) == change  # a read-only page has no save button
    assert client.get(f"{SYSTEMS}add/").status_code == add
