from __future__ import annotations

import pytest

from rides.models import Ride, RideState
from rides.roles import ROLE_PERMISSIONS
from tests.rides.conftest import started

pytestmark = pytest.mark.django_db


def test_ride_admin_lists_and_force_ends(client, staff_user, api, card_rider, vehicle,
                                         django_capture_on_commit_callbacks):
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    client.force_login(staff_user)
    assert client.get("/admin/rides/ride/").status_code == 200
    assert client.get(f"/admin/rides/ride/{ride.id}/change/").status_code == 200
    r = client.post("/admin/rides/ride/", {"action": "force_end", "_selected_action": [str(ride.id)]})
    assert r.status_code == 302
    ride.refresh_from_db()
    assert (ride.state, ride.end_reason, ride.ended_by) == (RideState.ENDED, "ops", staff_user)
    assert client.get("/admin/rides/cityridesettings/add/").status_code == 200


def test_roles_name_existing_permissions():
    from django.contrib.auth.models import Permission

    codenames = {f"rides.{c}" for c in Permission.objects.filter(content_type__app_label="rides")
                 .values_list("codename", flat=True)}
    for permissions in ROLE_PERMISSIONS.values():
        assert set(permissions) <= codenames
    assert Ride.objects.count() == 0
