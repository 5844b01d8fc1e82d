"""'Open a task' in the fleet map's vehicle panel: permission-checked, through fleet.services.ops_task_create."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from accounts import roles
from fleet.models import OpsTask
from tests.console.test_map import _client, _staff
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def _open(client: Any, vehicle_id: Any, **body: Any) -> Any:
    return client.post(f"/admin/map/vehicles/{vehicle_id}/task", json.dumps(body), content_type="application/json")


def test_a_task_is_opened_from_the_map_panel_by_staff_who_may() -> None:
    vehicle = VehicleFactory.create(city=CityFactory.create(slug="berlin"))
    support = _client(_staff(roles.SUPPORT_AGENT))
    assert _open(support, vehicle.id, kind="repair").status_code == 403
    assert support.get("/admin/map/?city=berlin").status_code == 200
    technician = _client(_staff(roles.FIELD_TECHNICIAN))
    page = technician.get("/admin/map/?city=berlin").content.decode()
    assert '"task_kinds": [{"kind": "swap_battery"' in page
    answer = _open(technician, vehicle.id, kind="repair")
    assert answer.status_code == 201
    task = OpsTask.objects.get()
    assert (answer.json()["id"], task.kind, task.vehicle_id, task.priority) == (str(task.id), "repair", vehicle.id, 2)
    assert _open(technician, vehicle.id, kind="repair").json()["id"] == str(task.id)  # one open per kind
    assert _open(technician, vehicle.id, kind="paint").status_code == 422
    assert _open(technician, uuid.uuid4(), kind="repair").status_code == 404
    assert OpsTask.objects.count() == 1
