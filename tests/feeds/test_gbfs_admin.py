"""GBFS systems in the admin: listed, edited with their alerts, and the database refuses half-filled app URIs."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

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
