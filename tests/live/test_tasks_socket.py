"""/ws/v1/ops/tasks: staff who may see ops tasks get every task event of their cities (opened, assigned,
reprioritised, closed by staff or by the system), and no vehicle positions; anyone else is refused."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from core import push
from fleet import services as fleet_services
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory, VehicleFactory
from tests.fleet.test_permissions import member
from tests.live.conftest import bearer, communicator, nothing_more, opened, receive, run

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/ws/v1/ops/tasks"


def test_riders_and_staff_without_the_task_permission_are_refused(rider: Any) -> None:
    plain_staff = UserFactory.create(is_staff=True)

    async def body() -> None:
        for user in (rider, plain_staff):
            comm = communicator(URL, bearer(user))
            assert (await comm.connect())[0] is False
            await comm.disconnect()
        comm = communicator(URL)  # no credentials
        assert (await comm.connect())[0] is False
        await comm.disconnect()

    run(body)


def test_a_technician_hears_every_task_event_of_the_cities_and_no_positions() -> None:
    berlin, paris = CityFactory.create(slug="berlin"), CityFactory.create(slug="paris")
    technician = member("field_technician")
    manager = member("fleet_manager")
    vehicle = VehicleFactory.create(city=berlin, code="BER001", lat=52.52, lon=13.40)
    parisian = VehicleFactory.create(city=paris, code="PAR001", lat=48.85, lon=2.35)

    async def body() -> None:
        comm, snapshot = await opened(URL, technician)
        assert snapshot["type"] == "snapshot"
        assert sorted(snapshot["data"]["cities"]) == sorted([str(berlin.id), str(paris.id)])

        task = await sync_to_async(fleet_services.ops_task_create)(vehicle_id=vehicle.id, kind="inspect",
                                                                    actor=manager)
        message = await receive(comm)
        assert (message["type"], message["data"]["id"], message["data"]["code"]) == (
            "ops_task.opened", str(task.id), "BER001")
        await sync_to_async(push.fleet_positions)(berlin.id, [{"id": str(vehicle.id), "lat": 52.53, "lon": 13.41}])
        assert await nothing_more(comm)  # the map's traffic never reaches a phone

        await sync_to_async(fleet_services.ops_task_set_priority)(task_id=task.id, priority=1)
        message = await receive(comm)
        assert (message["type"], message["data"]["priority"]) == ("ops_task.updated", 1)
        await sync_to_async(fleet_services.ops_task_assign)(task_id=task.id, assignee=technician)
        assert (await receive(comm))["type"] == "ops_task.assigned"
        await sync_to_async(fleet_services.ops_task_close)(task_id=task.id, actor=technician)
        message = await receive(comm)
        assert (message["type"], message["data"]["state"]) == ("ops_task.closed", "done")

        other = await sync_to_async(fleet_services.ops_task_open)(vehicle_id=parisian.id, kind="swap_battery")
        await sync_to_async(fleet_services.ops_tasks_close_for)(vehicle_ids=[parisian.id], kind="swap_battery",
                                                                reason="battery reported charged")
        opened_, closed = await receive(comm), await receive(comm)
        assert (opened_["type"], opened_["data"]["id"]) == ("ops_task.opened", str(other.id))
        assert (closed["type"], closed["data"]["outcome"]) == ("ops_task.closed", "battery reported charged")
        await comm.disconnect()

    run(body)
