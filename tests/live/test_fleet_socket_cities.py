"""/ws/v1/fleet and staff cities (docs/accounts.md "Cities"): another city is refused at the handshake like any
permission refusal (HTTP 403), and a socket whose staff member lost the city is closed at their next view (4003)."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Group

from accounts import roles
from fleet import services as fleet_services
from live.consumers.base import CLOSE_FORBIDDEN
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory
from tests.live.conftest import bearer, close_of, communicator, opened, receive, run

pytestmark = pytest.mark.django_db(transaction=True)


def _technician(cities: list[Any]) -> Any:
    user = UserFactory.create(is_staff=True, staff_cities=cities)
    user.groups.add(Group.objects.get(name=roles.FIELD_TECHNICIAN))
    return user


def test_a_berlin_technician_watches_berlin_and_is_refused_hamburg(city: Any) -> None:
    hamburg = CityFactory.create(slug="hamburg", name="Hamburg")
    tech = _technician([city])
    nobody = _technician([])

    async def body() -> None:
        for user, target in ((tech, hamburg), (nobody, city)):
            comm = communicator(f"/ws/v1/fleet?city={target.id}", bearer(user))
            assert (await comm.connect())[0] is False, target.slug
            await comm.disconnect()
        comm, snapshot = await opened(f"/ws/v1/fleet?city={city.id}", tech)
        assert snapshot["type"] == "snapshot" and snapshot["data"]["city"] == str(city.id)
        await comm.disconnect()

    run(body)


def test_a_view_after_the_city_was_taken_away_closes_the_socket(city: Any) -> None:
    hamburg = CityFactory.create(slug="hamburg", name="Hamburg")
    tech = _technician([city])

    async def body() -> None:
        comm, _ = await opened(f"/ws/v1/fleet?city={city.id}", tech)
        await comm.send_json_to({"type": "view", "bbox": [13.0, 52.0, 14.0, 53.0]})
        assert (await receive(comm))["type"] == "snapshot"  # still allowed: a fresh snapshot
        await sync_to_async(fleet_services.staff_cities_set)(user=tech, cities=[hamburg], all_cities=False, by=None)
        await comm.send_json_to({"type": "view", "bbox": [13.0, 52.0, 14.0, 53.0]})
        refused = await receive(comm)
        assert (refused["type"], refused["data"]) == ("view.refused", {"error": "forbidden"})
        assert (await close_of(comm, 3))["code"] == CLOSE_FORBIDDEN
        await comm.disconnect()

    run(body)
