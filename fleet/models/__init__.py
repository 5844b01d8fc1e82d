"""Fleet models, one module per concern; import them from ``fleet.models``."""

from fleet.models.alerting import (
    AlertChannel,
    AlertDelivery,
    AlertDeliveryAttempt,
    AlertEndpoint,
    AlertEvent,
    DeliveryState,
)
from fleet.models.catalog import (
    City,
    FormFactor,
    PropulsionType,
    VehicleType,
    validate_currency,
    validate_timezone,
)
from fleet.models.commands import Command, CommandKind, CommandState
from fleet.models.ops import (
    OpsAlert,
    OpsAlertKind,
    OpsAlertSeverity,
    OpsTask,
    OpsTaskCondition,
    OpsTaskKind,
    OpsTaskNote,
    OpsTaskPriority,
    OpsTaskState,
)
from fleet.models.policies import ImportedPolicy
from fleet.models.staff import StaffCities
from fleet.models.vehicles import ActorKind, Vehicle, VehicleEvent
from fleet.models.zones import Zone, ZoneKind

__all__ = [
    "ActorKind",
    "AlertChannel",
    "AlertDelivery",
    "AlertDeliveryAttempt",
    "AlertEndpoint",
    "AlertEvent",
    "DeliveryState",
    "City",
    "Command",
    "CommandKind",
    "CommandState",
    "FormFactor",
    "ImportedPolicy",
    "OpsAlert",
    "OpsAlertKind",
    "OpsAlertSeverity",
    "OpsTask",
    "OpsTaskCondition",
    "OpsTaskKind",
    "OpsTaskNote",
    "OpsTaskPriority",
    "OpsTaskState",
    "PropulsionType",
    "StaffCities",
    "Vehicle",
    "VehicleEvent",
    "VehicleType",
    "Zone",
    "ZoneKind",
    "validate_currency",
    "validate_timezone",
]
