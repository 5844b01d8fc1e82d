"""Staff roles get exactly the fleet powers fleet/roles.py gives them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.services.roles import roles_sync
from fleet.roles import ROLE_PERMISSIONS
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory


def member(role: str) -> Any:
    roles_sync()
    user = UserFactory.create(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.mark.django_db
def test_every_declared_fleet_permission_exists() -> None:
    report = roles_sync()
    assert [m for m in report.missing if m[1].startswith("fleet.")] == []
    for role, perms in ROLE_PERMISSIONS.items():
        assert set(perms) <= set(report.granted[role])


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "allowed"), [
    ("support_agent", False), ("field_technician", True), ("fleet_manager", True), ("finance", False),
])
def test_who_may_send_commands(api: Any, role: str, allowed: bool) -> None:
    vehicle = VehicleFactory.create()
    r = api.as_(member(role)).post(f"/api/v1/vehicles/{vehicle.id}/commands", {"kind": "locate"})
    assert r.status_code == (202 if allowed else 403)


@pytest.mark.django_db
def test_admin_offers_only_the_actions_a_role_may_run(client: Client) -> None:
    VehicleFactory.create()
    client.force_login(member("field_technician"))
    page = client.get("/admin/fleet/vehicle/").content.decode()
    assert 'value="set_maintenance"' in page and 'value="send_lock"' in page
    assert 'value="retire"' not in page and 'value="rotate_credential"' not in page
    client.force_login(member("support_agent"))
    page = client.get("/admin/fleet/vehicle/").content.decode()
    assert client.get("/admin/fleet/vehicle/").status_code == 200 and 'value="send_lock"' not in page
    assert client.get("/admin/fleet/zone/add/").status_code == 403
