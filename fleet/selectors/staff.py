"""A staff member's cities: the one gate every layer above fleet asks before showing or acting on city-bound data
(the admin, console pages, the staff API, the fleet socket). docs/accounts.md "Cities"."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from core.errors import DomainError
from fleet import errors
from fleet.models import City, Command, OpsAlert, OpsTask, StaffCities, Vehicle

# Cached on the user object for one request: the admin asks once per queryset, choice list and action.
_CACHE_ATTR = "fw_staff_city_ids"


def staff_city_ids(user: Any) -> set[uuid.UUID] | None:
    """``None`` when the user sees every city (a superuser, or a grant of all cities), else the ids of their
    cities, possibly empty: a staff member with no grant sees no city-bound data. Anonymous users see none."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    if user.is_superuser:
        return None
    if hasattr(user, _CACHE_ATTR):
        cached: set[uuid.UUID] | None = getattr(user, _CACHE_ATTR)
        return cached
    grant = StaffCities.objects.filter(user_id=user.pk).values_list("all_cities", flat=True).first()
    scope: set[uuid.UUID] | None
    if grant is None:
        scope = set()
    elif grant:
        scope = None
    else:
        scope = set(StaffCities.cities.through.objects.filter(staffcities_id=user.pk)
                    .values_list("city_id", flat=True))
    setattr(user, _CACHE_ATTR, scope)
    return scope


def staff_city_ids_forget(user: Any) -> None:
    """Drop the per-request cache (after the user's cities changed)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def staff_sees_city(*, user: Any, city_id: uuid.UUID | None) -> bool:
    scope = staff_city_ids(user)
    return scope is None or (city_id is not None and city_id in scope)


def staff_city_filter(user: Any, path: str) -> Q:
    """A ``Q`` keeping the rows whose ``path`` (a lookup to a city's id, e.g. ``vehicle__city``) is in the user's
    cities; everything for a user who sees every city, nothing for one who sees none."""
    scope = staff_city_ids(user)
    if scope is None:
        return Q()
    if not scope:
        return Q(pk__in=[])
    return Q(**{f"{path}__in": scope})


def staff_scope(queryset: QuerySet[Any], *, user: Any, path: str) -> QuerySet[Any]:
    """``queryset`` limited to the user's cities (``path`` as in ``staff_city_filter``)."""
    scope = staff_city_ids(user)
    if scope is None:
        return queryset
    if not scope:
        return queryset.none()
    return queryset.filter(**{f"{path}__in": scope})


def staff_cities(user: Any) -> QuerySet[City]:
    """The user's cities, by name (the dashboard's and the map's city chooser)."""
    return staff_scope(City.objects.order_by("name"), user=user, path="id")


def staff_row_check(*, user: Any, model: type[models.Model], pk: Any, path: str,
                    error: type[DomainError]) -> None:
    """``error`` (a 404) unless row ``pk`` of ``model`` is in one of the user's cities (``path`` to its city): the
    gate of the staff API before it reads or acts on a city-bound row. No query for staff of every city (the
    view's own read answers a missing row)."""
    if staff_city_ids(user) is None:
        return
    if not staff_scope(model._default_manager.filter(pk=pk), user=user, path=path).exists():
        raise error()


def staff_vehicle_check(*, user: Any, vehicle_id: uuid.UUID) -> None:
    """``VehicleNotFound`` (404) unless the vehicle is in one of the user's cities: the gate of every staff action
    on a vehicle (commands, tasks) through the API."""
    staff_row_check(user=user, model=Vehicle, pk=vehicle_id, path="city", error=errors.VehicleNotFound)


def staff_command_check(*, user: Any, command_id: uuid.UUID) -> None:
    staff_row_check(user=user, model=Command, pk=command_id, path="vehicle__city", error=errors.CommandNotFound)


def staff_ops_alert_check(*, user: Any, alert_id: uuid.UUID) -> None:
    staff_row_check(user=user, model=OpsAlert, pk=alert_id, path="city", error=errors.OpsAlertNotFound)


def staff_ops_task_check(*, user: Any, task_id: uuid.UUID) -> None:
    staff_row_check(user=user, model=OpsTask, pk=task_id, path="city", error=errors.OpsTaskNotFound)


def staff_grants(user: Any) -> StaffCities | None:
    return StaffCities.objects.filter(user_id=user.pk).prefetch_related("cities").first()
