"""Domain errors of the rides app (rendered by ``core.errors.exception_handler``)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, RuleViolation


class RideNotFound(NotFound):
    code, message = "ride_not_found", "No such ride."


class ReservationNotFound(NotFound):
    code, message = "reservation_not_found", "No such reservation."


class RideStateConflict(Conflict):
    """An illegal transition; ``details.state`` carries the ride's current state."""

    code, message = "ride_state_conflict", "The ride is not in a state that allows this."


class RideStartInProgress(Conflict):
    """Two retries of the same half-finished start raced: the other one is placing the hold and finishes it."""

    code, message = "ride_start_in_progress", "This ride is being started by another request: fetch it shortly."


class ReservationStateConflict(Conflict):
    code, message = "reservation_state_conflict", "The reservation is not active."


class RideAlreadyOpen(Conflict):
    code, message = "ride_already_open", "You already have an open ride."


class ReservationAlreadyActive(Conflict):
    code, message = "reservation_already_active", "You already have an active reservation."


class VehicleUnavailable(Conflict):
    code, message = "vehicle_unavailable", "This vehicle cannot be rented right now."


class VehicleNotFound(NotFound):
    code, message = "vehicle_not_found", "No vehicle with this code."


class RiderNotActive(RuleViolation):
    code, message = "rider_not_active", "Your account cannot rent vehicles."


class RiderTooYoung(RuleViolation):
    code, message = "rider_too_young", "You are not old enough for this vehicle type."


class RiderBirthDateMissing(RuleViolation):
    code, message = "date_of_birth_required", "This vehicle type has a minimum age: add your date of birth first."


class BatteryTooLow(RuleViolation):
    code, message = "battery_too_low", "The vehicle's battery is too low to start a ride."


class StartNotAllowedHere(RuleViolation):
    code, message = "ride_start_not_allowed_here", "Rides cannot start at this vehicle's position."


class VehiclePositionUnknown(RuleViolation):
    code, message = "vehicle_position_unknown", "The vehicle's position is unknown."


class TariffMissing(RuleViolation):
    code, message = "tariff_not_found", "There is no tariff for this vehicle type in this city."


class ReservationCooldown(RuleViolation):
    code, status, message = "reservation_cooldown", 429, "Too many lapsed reservations: try again later."


class EndOutsideOperatingArea(RuleViolation):
    code, message = "end_outside_operating_area", "Rides cannot end outside the operating area."


class EndInNoParkingZone(RuleViolation):
    code, message = "end_in_no_parking_zone", "Rides cannot end in a no-parking zone."


class EndAwayFromParking(RuleViolation):
    code, message = "end_parking_spot_required", "Rides in this area must end at a parking spot."


class EndNotAllowedHere(RuleViolation):
    code, message = "end_not_allowed_here", "Rides cannot end here."


class ParkingPhotoRequired(RuleViolation):
    code, message = "parking_photo_required", "This city requires a photo of the parked vehicle."


class RatingExists(Conflict):
    code, message = "ride_already_rated", "This ride was already rated."


__all__ = ["DomainError"]
