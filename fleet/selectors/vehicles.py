"""Single-vehicle reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings

from fleet import errors
from fleet.models import Command, Vehicle, VehicleType


def vehicle_get(*, vehicle_id: uuid.UUID) -> Vehicle:
    try:
        return Vehicle.objects.select_related("vehicle_type", "city").get(id=vehicle_id)
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


def vehicle_get_by_code(*, code: str) -> Vehicle:
    try:
        return Vehicle.objects.select_related("vehicle_type", "city").get(code=code.strip().upper())
    except Vehicle.DoesNotExist:
        raise errors.VehicleNotFound() from None


def vehicle_is_moving(vehicle: Vehicle) -> bool:
    """Reported moving: the last reported speed is above ``FLEET_MOVING_SPEED_KPH``. The age of the report does
    not matter: when in doubt, do not immobilise (a vehicle that really stopped reports a low speed)."""
    return vehicle.speed_kph is not None and vehicle.speed_kph > settings.FLEET_MOVING_SPEED_KPH


def command_get(*, command_id: uuid.UUID) -> Command:
    try:
        return Command.objects.get(id=command_id)
    except Command.DoesNotExist:
        raise errors.CommandNotFound() from None


def vehicle_normal_speed_limits(*, vehicle_type_codes: Iterable[str]) -> dict[str, int]:
    """The speed limit each vehicle type runs at outside slow zones (its ``max_permitted_speed_kph``, else
    ``FLEET_DEFAULT_SPEED_LIMIT_KPH``): what telemetry restores when a vehicle leaves a slow zone."""
    codes = set(vehicle_type_codes)
    default = int(settings.FLEET_DEFAULT_SPEED_LIMIT_KPH)
    known = dict(VehicleType.objects.filter(code__in=codes).values_list("code", "max_permitted_speed_kph"))
    return {code: min(100, known.get(code) or default) for code in codes}
