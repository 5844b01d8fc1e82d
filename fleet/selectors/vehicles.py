"""Single-vehicle reads."""

from __future__ import annotations

import uuid

from fleet import conf, errors
from fleet.models import Command, Vehicle


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
    return vehicle.speed_kph is not None and vehicle.speed_kph > conf.get("FLEET_MOVING_SPEED_KPH")


def command_get(*, command_id: uuid.UUID) -> Command:
    try:
        return Command.objects.get(id=command_id)
    except Command.DoesNotExist:
        raise errors.CommandNotFound() from None
