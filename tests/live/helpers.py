"""Rides for the socket tests, started and unlocked through the real services."""

from __future__ import annotations

from typing import Any

from fleet import services as fleet_services
from rides import services as ride_services
from rides.models import Ride


def active_ride(rider: Any, vehicle: Any) -> Ride:
    """A ride started through rides.services and unlocked by the vehicle (the path telemetry's ack takes)."""
    ride = ride_services.ride_start(rider=rider, code=vehicle.code)
    assert ride.unlock_command_id is not None
    fleet_services.command_deliver(command_id=ride.unlock_command_id)
    fleet_services.command_ack(command_id=ride.unlock_command_id, ok=True)
    ride.refresh_from_db()
    assert ride.state == "active", ride.state
    return ride
