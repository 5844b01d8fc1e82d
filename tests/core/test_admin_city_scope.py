"""Staff see and act on their own cities only, on every admin page of every city-bound model (docs/accounts.md
"Cities"): walks every registered ModelAdmin (``AdminSite.is_registered``/``get_model_admin``) with the demo data
(Berlin) as a staff member of another city (sees none of it, every object page a 404) and of Berlin (sees it)."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import models
from django.test import Client
from django.urls import reverse

from fleet.admin.scope import CityScopedAdmin
from fleet.models import City
from tests.accounts.factories import UserFactory
from tests.fleet.factories import CityFactory

# Registered models that are not city-bound, and why (anything else with a way to a city must be scoped).
NOT_CITY_BOUND = {
    "fleet.VehicleType": "shared by every city",
    "billing.LedgerAccount": "the company's books: rider wallets have no city (docs/accounts.md Cities)",
    "billing.LedgerEntry": "the company's books",
    "billing.LedgerTransaction": "the company's books",
    "billing.PromoCode": "valid in every city",
}
# City-bound by a ride id rather than a foreign key (billing cannot point at rides).
RIDE_BOUND = {"billing.Payment", "billing.Refund"}


def registered_models() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if admin.site.is_registered(model)]


def reaches_city(model: type[models.Model], depth: int = 2) -> bool:
    """Does the model have a foreign key (or a chain of up to ``depth``) to City, not through a user?"""
    if model is City:
        return True
    if depth == 0:
        return False
    for field in model._meta.get_fields():
        if not (field.many_to_one or field.one_to_one or field.many_to_many) or not field.concrete:
            continue
        related = field.related_model
        if related is City or (related is not None and related._meta.label != "accounts.User"
                               and related is not model and reaches_city(related, depth - 1)):
            return True
    return False


def test_every_city_bound_model_has_a_city_scoped_admin() -> None:
    bound = [m for m in registered_models() if reaches_city(m) or m._meta.label in RIDE_BOUND]
    unscoped = [m._meta.label for m in bound if m._meta.label not in NOT_CITY_BOUND
                and not isinstance(admin.site.get_model_admin(m), CityScopedAdmin)]
    assert unscoped == []
    assert len(bound) >= 20  # the detection found the city-bound models, so the rule above means something
    # The allowance list is no hiding place: what it names really has no scoped admin.
    assert not [label for label in NOT_CITY_BOUND
                if isinstance(admin.site.get_model_admin(apps.get_model(label)), CityScopedAdmin)]


def _staff_with_every_permission(cities: list[City]) -> Any:
    user = UserFactory.create(is_staff=True, staff_cities=cities)
    user.user_permissions.set(Permission.objects.all())
    return user


def _scoped_models() -> list[type[models.Model]]:
    return [m for m in registered_models() if isinstance(admin.site.get_model_admin(m), CityScopedAdmin)]


@pytest.mark.django_db
def test_a_staff_member_of_another_city_sees_nothing_of_berlin_on_any_admin_page(settings: Any) -> None:
    settings.DEBUG = True  # demo_data runs only with DEBUG on
    call_command("demo_data", "--force", verbosity=0)
    berlin = City.objects.get(slug="berlin")
    hamburg = CityFactory.create(slug="hamburg", name="Hamburg")
    outsider, insider = Client(), Client()
    outsider.force_login(_staff_with_every_permission([hamburg]))
    insider.force_login(_staff_with_every_permission([berlin]))

    walked = 0
    for model in _scoped_models():
        opts = model._meta
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = outsider.get(changelist)
        assert response.status_code == 200, changelist
        shown = {str(pk) for pk in response.context["cl"].result_list.values_list("pk", flat=True)}
        if model is City:
            assert shown == {str(hamburg.pk)}
        elif model._meta.label == "billing.Payment":  # a wallet top-up belongs to no city: every finance member's
            assert not model._default_manager.filter(pk__in=shown, ride_id__isnull=False).exists()
        else:
            assert shown == set(), changelist
        berlin_rows = (admin.site.get_model_admin(model).get_queryset(insider.get(changelist).wsgi_request)
                       .exclude(pk__in=[*shown, hamburg.pk]).order_by("pk"))
        row = berlin_rows.first()
        if row is None:
            continue
        for view in ("change", "delete", "history"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[row.pk])
            assert outsider.get(url).status_code == 404, url
        assert insider.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
                           ).status_code == 200, opts.label
        walked += 1
    assert walked >= 12  # the demo fills most city-bound tables: the object pages really were tried

    # An id that does not exist is the same 404 for a staff member limited to some cities (not the admin's
    # redirect, which would tell a hidden object from a missing one).
    missing = reverse("admin:fleet_vehicle_change", args=["00000000-0000-0000-0000-000000000000"])
    assert outsider.get(missing).status_code == 404
