"""Writes of a staff member's cities (docs/accounts.md "Cities")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from core import audit
from fleet.models import City, StaffCities
from fleet.selectors.staff import staff_city_ids_forget


@transaction.atomic
def staff_cities_set(*, user: Any, cities: Iterable[City], all_cities: bool, by: Any | None) -> StaffCities:
    """Give ``user`` these cities (``all_cities``: every city, the list is then kept but not used). Setting the
    same again changes nothing but ``updated_by``/``updated_at``. ``by`` is the staff member who made the change
    (``None`` for a migration or a command)."""
    grant, created = StaffCities.objects.select_for_update().get_or_create(user_id=user.pk)
    before = {} if created else {"all_cities": grant.all_cities,
                                 "cities": sorted(grant.cities.values_list("name", flat=True))}
    cities = list(cities)
    grant.all_cities = all_cities
    grant.updated_by = by
    grant.save()
    grant.cities.set(cities)
    staff_city_ids_forget(user)
    after = {"all_cities": all_cities, "cities": sorted(city.name for city in cities)}
    if before != after:  # a role change: which cities this staff member sees and acts on (docs/audit.md)
        audit.audit_staff_action(actor=by, action="fleet.staff_cities", obj=user,
                                 before={k: v for k, v in before.items() if after.get(k) != v},
                                 after={k: v for k, v in after.items() if before.get(k) != v})
    return grant
