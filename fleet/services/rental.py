"""What the rides app calls: claim a vehicle, reserve it, start/end/cancel a trip; and the ops shortcuts.

Every helper goes through ``vehicle_transition`` so that each change is checked and logged. The helpers lock
the vehicle row themselves; call them inside the caller's ``transaction.atomic`` so the ride row and the vehicle
state commit together (a failure rolls both back).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from core import audit, push
from core.db import joins_transaction
from fleet import errors
from fleet.models import ActorKind, Vehicle, VehicleEvent
from fleet.services.transitions import Location, lock_vehicle, vehicle_transition
from fleet.states import MdsState, Status


def vehicle_claim_for_ride(
    *, vehicle_id: uuid.UUID | None = None, code: str | None = None, reservation_id: uuid.UUID | None = None
) -> Vehicle:
    """Lock a vehicle (SELECT ... FOR UPDATE) that can start a ride: available, or reserved by ``reservation_id``.

    Must be called inside ``transaction.atomic``; the lock is held until the caller's transaction ends, so two
    riders racing for one vehicle are serialised and the second gets ``VehicleUnavailable``.
    """
    if vehicle_id is None:
        found = Vehicle.objects.filter(code=(code or "").upper()).values_list("id", flat=True).first()
        if found is None:
            raise errors.VehicleNotFound()
        vehicle_id = found
    vehicle = lock_vehicle(vehicle_id)
    if vehicle.status == Status.AVAILABLE:
        return vehicle
    if vehicle.status == Status.RESERVED and reservation_id is not None and vehicle.trip_id == reservation_id:
        return vehicle
    raise errors.VehicleUnavailable(status=vehicle.status)


@transaction.atomic
def reservation_start(
    *, vehicle_id: uuid.UUID, reservation_id: uuid.UUID, actor: Any = None, at: datetime | None = None
) -> VehicleEvent:
    vehicle = vehicle_claim_for_ride(vehicle_id=vehicle_id)
    return vehicle_transition(vehicle_id=vehicle.id, event_types=["reservation_start"], trip_id=reservation_id,
                              actor=actor, actor_kind=ActorKind.RIDER, at=at)


@transaction.atomic
def reservation_cancel(
    *, vehicle_id: uuid.UUID, reservation_id: uuid.UUID, actor: Any = None, at: datetime | None = None,
    actor_kind: str = ActorKind.RIDER,
) -> VehicleEvent:
    return vehicle_transition(vehicle_id=vehicle_id, event_types=["reservation_cancel"], trip_id=reservation_id,
                              actor=actor, actor_kind=actor_kind, at=at)


@transaction.atomic
def trip_start(
    *, vehicle_id: uuid.UUID, trip_id: uuid.UUID, reservation_id: uuid.UUID | None = None, actor: Any = None,
    at: datetime | None = None, location: Location | None = None, battery_pct: int | None = None,
) -> VehicleEvent:
    """Start a trip on an available vehicle, or on one reserved by ``reservation_id``."""
    vehicle = vehicle_claim_for_ride(vehicle_id=vehicle_id, reservation_id=reservation_id)
    return vehicle_transition(vehicle_id=vehicle.id, event_types=["trip_start"], trip_id=trip_id, actor=actor,
                              actor_kind=ActorKind.RIDER, at=at, location=location, battery_pct=battery_pct)


@joins_transaction
def trip_end(
    *, vehicle_id: uuid.UUID, trip_id: uuid.UUID, actor: Any = None, at: datetime | None = None,
    location: Location | None = None, battery_pct: int | None = None, locked: Vehicle | None = None,
) -> VehicleEvent:
    """End a trip; a battery below ``FLEET_LOW_BATTERY_PCT`` makes it ``[trip_end, battery_low]`` as MDS shows.

    ``locked``: the vehicle row the caller holds with ``lock_vehicle`` in this transaction (as ``vehicle_transition``).
    """
    battery = battery_pct if battery_pct is not None else lock_vehicle(vehicle_id, held=locked).battery_pct
    events = ["trip_end"]
    if battery is not None and battery < settings.FLEET_LOW_BATTERY_PCT:
        events.append("battery_low")
    return vehicle_transition(vehicle_id=vehicle_id, event_types=events, trip_id=trip_id, actor=actor,
                              actor_kind=ActorKind.RIDER, at=at, location=location, battery_pct=battery_pct,
                              locked=locked)


@joins_transaction
def trip_cancel(
    *, vehicle_id: uuid.UUID, trip_id: uuid.UUID, actor: Any = None, at: datetime | None = None,
    actor_kind: str = ActorKind.RIDER, locked: Vehicle | None = None,
) -> VehicleEvent:
    return vehicle_transition(vehicle_id=vehicle_id, event_types=["trip_cancel"], trip_id=trip_id, actor=actor,
                              actor_kind=actor_kind, at=at, locked=locked)


@transaction.atomic
def vehicle_set_maintenance(*, vehicle_id: uuid.UUID, actor: Any = None) -> VehicleEvent:
    """Ops: flag a vehicle for maintenance (MDS ``maintenance`` from available, a relabel if already out of service)."""
    vehicle = lock_vehicle(vehicle_id)
    events: dict[str, str] = {MdsState.AVAILABLE: "maintenance", MdsState.NON_OPERATIONAL: "unspecified"}
    event = events.get(vehicle.mds_state)
    if event is None:
        raise errors.TransitionNotAllowed(
            f"A vehicle that is {vehicle.status} cannot be set to maintenance.", from_state=vehicle.mds_state
        )
    was = vehicle.status
    result = vehicle_transition(vehicle_id=vehicle.id, event_types=[event], status=Status.MAINTENANCE,
                                actor=actor, actor_kind=ActorKind.OPS, locked=vehicle)
    audit.audit_staff_action(actor=actor, action="fleet.set_maintenance", obj=vehicle, before={"status": was},
                             after={"status": Status.MAINTENANCE})
    return result


@transaction.atomic
def vehicle_back_in_service(*, vehicle_id: uuid.UUID, actor: Any = None, by_battery: bool = False,
                            locked: Vehicle | None = None) -> VehicleEvent:
    """Ops: a vehicle in maintenance is rentable again (MDS ``maintenance``: non_operational -> available), the
    reverse of ``vehicle_set_maintenance``. Its city's ops sockets see the new status at once.

    ``by_battery``: a vehicle whose last battery reading is below ``FLEET_LOW_BATTERY_PCT`` goes to ``low_battery``
    instead (MDS ``maintenance`` then ``battery_low``), so that nobody rents an empty vehicle."""
    vehicle = lock_vehicle(vehicle_id, held=locked)
    if vehicle.status != Status.MAINTENANCE:
        raise errors.TransitionNotAllowed(
            f"Only a vehicle in maintenance goes back in service; this one is {vehicle.status}.",
            from_state=vehicle.mds_state,
        )
    low = by_battery and vehicle.battery_pct is not None and vehicle.battery_pct < settings.FLEET_LOW_BATTERY_PCT
    events, status = (["maintenance", "battery_low"], Status.LOW_BATTERY) if low else (["maintenance"], Status.AVAILABLE)
    event = vehicle_transition(vehicle_id=vehicle.id, event_types=events, status=status,
                               actor=actor, actor_kind=ActorKind.OPS, locked=vehicle)
    audit.audit_staff_action(actor=actor, action="fleet.back_in_service", obj=vehicle,
                             before={"status": Status.MAINTENANCE}, after={"status": status})
    push.fleet_positions(vehicle.city_id, [{
        "id": str(vehicle.id), "code": vehicle.code, "lat": vehicle.lat, "lon": vehicle.lon,
        "status": status, "battery_pct": vehicle.battery_pct,
        "at": vehicle.position_at.isoformat() if vehicle.position_at else None}])
    return event


@transaction.atomic
def vehicle_retire(*, vehicle_id: uuid.UUID, actor: Any = None) -> VehicleEvent:
    """Ops: take a vehicle out of the fleet for good (MDS ``decommissioned``). Retired is terminal."""
    vehicle = lock_vehicle(vehicle_id)
    was = vehicle.status
    event = vehicle_transition(vehicle_id=vehicle_id, event_types=["decommissioned"], actor=actor,
                               actor_kind=ActorKind.OPS, locked=vehicle)
    audit.audit_staff_action(actor=actor, action="fleet.retire", obj=vehicle, before={"status": was},
                             after={"status": Status.RETIRED})
    return event


def vehicle_deploy(*, vehicle_id: uuid.UUID, location: Location, actor: Any = None) -> VehicleEvent:
    """Ops: put a vehicle from the workshop/warehouse on the street (MDS ``provider_drop_off``)."""
    return vehicle_transition(vehicle_id=vehicle_id, event_types=["provider_drop_off"], location=location,
                              actor=actor, actor_kind=ActorKind.OPS)
