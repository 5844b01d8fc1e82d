"""A staff member of another city cannot read, force-end or refund a Berlin ride through the API or the admin, nor
read its receipt (docs/accounts.md "Cities"); the ride's billing keeps its city for that."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.services.roles import roles_sync
from billing.models import Refund, RideBilling
from rides.models import RideState
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory
from tests.rides.conftest import started

pytestmark = pytest.mark.django_db


def _staff(cities: list[Any], *roles: str) -> Any:
    roles_sync()
    user = UserFactory.create(is_staff=True, staff_cities=cities)
    user.groups.add(*Group.objects.filter(name__in=roles))
    return user


def _code(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_another_citys_staff_cannot_read_force_end_or_refund_a_berlin_ride(
        api: Any, city: Any, card_rider: Any, vehicle: Any, django_capture_on_commit_callbacks: Any) -> None:
    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    assert RideBilling.objects.get(ride_id=ride.id).city_id == city.id  # the hold keeps the ride's city
    hamburg = CityFactory.create(slug="hamburg", name="Hamburg")
    outsider = _staff([hamburg], "admin", "finance", "support_agent")
    insider = _staff([city], "admin", "finance", "support_agent")

    assert _code(api.as_(outsider).get(f"/api/v1/rides/{ride.id}")) == (404, "ride_not_found")
    assert api.as_(insider).get(f"/api/v1/rides/{ride.id}").status_code == 200
    r = api.as_(outsider).post(f"/api/v1/rides/{ride.id}/force-end", {"reason": "stuck"}, format="json")
    assert _code(r) == (404, "ride_not_found")
    ride.refresh_from_db()
    assert ride.state == RideState.ACTIVE

    r = api.as_(insider).post(f"/api/v1/rides/{ride.id}/force-end", {"reason": "stuck"}, format="json")
    assert r.status_code == 200
    refund = {"amount": {"amount": "0.50", "currency": "EUR"}, "reason": "sorry"}
    r = api.as_(outsider).post(f"/api/v1/billing/rides/{ride.id}/refunds", refund, format="json")
    assert _code(r) == (404, "ride_billing_not_found")
    assert not Refund.objects.exists()
    assert _code(api.as_(outsider).get(f"/api/v1/billing/rides/{ride.id}/receipt")) == (404, "ride_billing_not_found")
    assert api.as_(insider).post(f"/api/v1/billing/rides/{ride.id}/refunds", refund, format="json").status_code == 201

    # The admin: the ride, its billing and its refund are 404 to the outsider, and the lists are empty.
    admin = Client()
    admin.force_login(outsider)
    outsider.user_permissions.add(*Permission.objects.filter(codename__in=["view_refund", "view_ridebilling",
                                                                          "view_payment"]))
    for path in (f"/admin/rides/ride/{ride.id}/change/", f"/admin/billing/ridebilling/{ride.id}/change/",
                 f"/admin/billing/refund/{Refund.objects.get().id}/change/"):
        assert admin.get(path).status_code == 404, path
    assert admin.get("/admin/billing/refund/").context["cl"].result_count == 0
    assert not any(p.ride_id for p in admin.get("/admin/billing/payment/").context["cl"].result_list)
