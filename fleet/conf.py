"""Fleet settings with their defaults (set in config/settings.py from the environment, documented in docs/fleet.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "FLEET_LOW_BATTERY_PCT": 15,  # below this a vehicle ending a trip becomes low_battery (MDS battery_low)
    "FLEET_CHARGED_BATTERY_PCT": 40,  # a low_battery vehicle reporting this much is available again (battery_charged)
    "FLEET_DEFAULT_SPEED_LIMIT_KPH": 25,  # restored on leaving a slow zone when the vehicle type sets no maximum
    "FLEET_POSITION_STALE_S": 900,  # nearby search hides vehicles whose position is older than this
    "FLEET_NEARBY_DEFAULT_RADIUS_M": 500,
    "FLEET_NEARBY_MAX_RADIUS_M": 2000,
    "FLEET_NEARBY_LIMIT": 50,
    "FLEET_MOVING_SPEED_KPH": 3.0,  # above this a vehicle counts as moving (lock interlock)
    "FLEET_COMMAND_ACK_TIMEOUT_S": 20,  # a sent command not acknowledged within this times out
    "FLEET_CREDENTIAL_CACHE_S": 60,
    "VEHICLE_GATEWAY": "fleet.gateway.SimulatedGateway",
    "VEHICLE_GATEWAY_SIM_MODE": "ack",  # ack | fail | silent
    "VEHICLE_GATEWAY_SIM_LAG_S": 0.0,
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
