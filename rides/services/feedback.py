"""After the ride: a rating, and a problem report that marks the vehicle for inspection."""

from __future__ import annotations

import logging
import uuid

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from accounts.models import User
from core import uploads
from fleet import errors as fleet_errors
from fleet import services as fleet_services
from rides import errors
from rides.models import ProblemReport, Ride, RideRating, RideState
from rides.selectors import ride_get_for_rider

logger = logging.getLogger(__name__)


def ride_rate(*, rider: User, ride_id: uuid.UUID, stars: int, comment: str = "") -> RideRating:
    ride = ride_get_for_rider(rider=rider, ride_id=ride_id)
    if ride.state != RideState.ENDED:
        raise errors.RideStateConflict(state=ride.state, allowed=[RideState.ENDED])
    try:
        with transaction.atomic():
            return RideRating.objects.create(ride=ride, stars=stars, comment=comment)
    except IntegrityError:
        raise errors.RatingExists() from None


def ride_problem_report(
    *, rider: User, ride_id: uuid.UUID, category: str, description: str = "", photo: UploadedFile | None = None
) -> ProblemReport:
    """Record the report and set the vehicle to maintenance (for inspection) when it is not on a trip.

    The photo must be an image (413 ``upload_too_large``, 415 ``upload_type_unsupported``); it is stored re-encoded,
    without metadata, under a random name (core.uploads)."""
    cleaned = uploads.image_clean(photo) if photo is not None else None  # before the transaction: CPU-bound
    return _problem_record(rider=rider, ride_id=ride_id, category=category, description=description, photo=cleaned)


@transaction.atomic
def _problem_record(
    *, rider: User, ride_id: uuid.UUID, category: str, description: str, photo: ContentFile[bytes] | None
) -> ProblemReport:
    ride: Ride = ride_get_for_rider(rider=rider, ride_id=ride_id)
    report = ProblemReport(ride=ride, category=category, description=description)
    if photo is not None:
        report.photo.save(str(photo.name), photo, save=False)
    report.save()
    try:
        with transaction.atomic():
            fleet_services.vehicle_set_maintenance(vehicle_id=ride.vehicle_id, actor=rider)
    except fleet_errors.TransitionNotAllowed:
        logger.info("vehicle %s reported (%s) while %s: left for ops", ride.vehicle_id, category, "in use")
    fleet_services.ops_task_open(vehicle_id=ride.vehicle_id, kind="inspect", reason=f"rider reported: {category}")
    return report
