"""Every write of the fleet app. Other apps call these (``from fleet import services``)."""

from fleet.services.answers import command_ack
from fleet.services.commands import (
    command_cancel,
    command_deliver,
    command_queue,
    command_time_out,
    commands_expire_overdue,
    commands_queue_many,
)
from fleet.services.credentials import vehicle_credential_revoke, vehicle_credential_rotate
from fleet.services.field_tasks import ops_task_close, ops_task_create, ops_task_note_add
from fleet.services.ops import (
    AlertSpec,
    TaskSpec,
    ops_alert_open,
    ops_alert_resolve,
    ops_alerts_open,
    ops_alerts_resolve_for,
    ops_alerts_seen,
    ops_task_assign,
    ops_task_open,
    ops_task_set_priority,
    ops_tasks_close_for,
    ops_tasks_open,
    vehicles_flag,
    vehicles_unflag,
)
from fleet.services.readings import vehicle_record_reading
from fleet.services.rental import (
    reservation_cancel,
    reservation_start,
    trip_cancel,
    trip_end,
    trip_start,
    vehicle_back_in_service,
    vehicle_claim_for_ride,
    vehicle_deploy,
    vehicle_retire,
    vehicle_set_maintenance,
)
from fleet.services.securing import trip_end_unsecured, vehicle_lock_confirmed
from fleet.services.staff import staff_cities_set
from fleet.services.transitions import Location, lock_vehicle, vehicle_transition
from fleet.services.zones import ZoneImportInvalid, zone_create, zones_changed, zones_import

__all__ = [
    "AlertSpec",
    "Location",
    "TaskSpec",
    "ZoneImportInvalid",
    "command_ack",
    "command_cancel",
    "command_deliver",
    "command_queue",
    "command_time_out",
    "commands_expire_overdue",
    "commands_queue_many",
    "lock_vehicle",
    "ops_alert_open",
    "ops_alert_resolve",
    "ops_alerts_open",
    "ops_alerts_resolve_for",
    "ops_alerts_seen",
    "ops_task_assign",
    "ops_task_set_priority",
    "ops_task_close",
    "ops_task_create",
    "ops_task_note_add",
    "ops_task_open",
    "ops_tasks_close_for",
    "ops_tasks_open",
    "reservation_cancel",
    "reservation_start",
    "staff_cities_set",
    "trip_cancel",
    "trip_end",
    "trip_end_unsecured",
    "trip_start",
    "vehicle_back_in_service",
    "vehicle_claim_for_ride",
    "vehicle_credential_revoke",
    "vehicle_credential_rotate",
    "vehicle_deploy",
    "vehicle_lock_confirmed",
    "vehicle_record_reading",
    "vehicle_retire",
    "vehicle_set_maintenance",
    "vehicle_transition",
    "vehicles_flag",
    "vehicles_unflag",
    "zone_create",
    "zones_changed",
    "zones_import",
]
