"""Domain errors of the fleet app (rendered by ``core.errors.exception_handler``)."""

from __future__ import annotations

from core.errors import DomainError


class VehicleNotFound(DomainError):
    code, status, message = "vehicle_not_found", 404, "No such vehicle."


class CommandNotFound(DomainError):
    code, status, message = "command_not_found", 404, "No such command."


class CityNotFound(DomainError):
    code, status, message = "city_not_found", 404, "No such city."


class TransitionNotAllowed(DomainError):
    code, status, message = "vehicle_transition_not_allowed", 409, "The MDS state machine does not allow this event."


class VehicleStateRequired(DomainError):
    code, status = "vehicle_state_required", 422
    message = "This event can lead to several states; say which one (vehicle_state/status)."


class UnknownEventType(DomainError):
    code, status, message = "unknown_event_type", 422, "Not an MDS micromobility event type."


class TripIdRequired(DomainError):
    code, status, message = "trip_id_required", 422, "Trip events need a trip id."


class VehicleRetired(DomainError):
    code, status, message = "vehicle_retired", 409, "The vehicle is retired."


class VehicleUnavailable(DomainError):
    code, status, message = "vehicle_unavailable", 409, "This vehicle cannot be rented right now."


class TripMismatch(DomainError):
    code, status, message = "vehicle_trip_mismatch", 409, "The vehicle is not on this reservation or trip."


class VehicleMoving(DomainError):
    code, status, message = "vehicle_moving", 409, "The vehicle is moving: it cannot be locked or throttled now."


class CommandInvalid(DomainError):
    code, status, message = "command_invalid", 422, "The command parameters are invalid."


class CommandIdempotencyConflict(DomainError):
    code, status = "command_idempotency_conflict", 409
    message = "This idempotency key was already used for a different command."


class CommandNotSent(DomainError):
    code, status, message = "command_not_sent", 409, "The command was not sent yet; it cannot be acknowledged."


class InvalidCoordinates(DomainError):
    code, status, message = "invalid_coordinates", 400, "lat must be in [-90, 90] and lon in [-180, 180]."


class RadiusTooLarge(DomainError):
    code, status, message = "radius_too_large", 400, "The search radius is above the limit."


class OpsAlertNotFound(DomainError):
    code, status, message = "ops_alert_not_found", 404, "No such ops alert."


class OpsTaskNotFound(DomainError):
    code, status, message = "ops_task_not_found", 404, "No such ops task."


class OpsTaskClosed(DomainError):
    code, status, message = "ops_task_closed", 409, "The task is already done or cancelled."


class OpsTaskNoteEmpty(DomainError):
    code, status, message = "ops_task_note_empty", 422, "A note needs a text, a photo or both."


class AssigneeInvalid(DomainError):
    code, status, message = "ops_task_assignee_invalid", 422, "That person cannot work on ops tasks."
