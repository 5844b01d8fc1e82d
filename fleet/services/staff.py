"""Writes of a staff member's cities (docs/accounts.md "Cities")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from fleet.models import City, StaffCities
from fleet.selectors.staff import staff_city_ids_forget


@transaction.atomic
def staff_cities_set(*, user: Any, cities: Iterable[City], all_cities: bool, by: Any | None) -> StaffCities:
    """Give ``user`` these cities (``all_cities``: every city, the list is then kept but not used). Setting the
    same again changes nothing but ``updated_by``/``updated_at``. ``by`` is the staff member who made the change
    (``None`` for a migration or a command)."""
    grant, _ = StaffCities.objects.select_for_update().get_or_create(user_id=user.pk)
    grant.all_cities = all_cities
    grant.updated_by = by
    grant.save()
    grant.cities.set(list(cities))
    staff_city_ids_forget(user)
    return grant
