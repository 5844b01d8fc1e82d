"""The naive telemetry path, for comparison only (``python -m bench telemetry``): one Celery task per message,
ORM writes. A worker loads it with ``celery -A config worker -I bench._telemetry_naive``.

Same work per message as the batch pipeline: validate, store the history row (ORM insert, a duplicate skipped),
read the vehicle before, store its latest state (``fleet.services.vehicle_record_reading``), run the reactions
on that one reading; then count it in Redis.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction

DONE_KEY = "naive_done"


@shared_task(name="bench.telemetry_naive.apply_one")
def apply_one(vehicle_id: str, payload: dict[str, Any], received_ms: int) -> None:
    from fleet import services as fleet_services
    from fleet.models import Vehicle
    from telemetry import pipeline, reactions, streams, validation
    from telemetry.messages import VehicleBefore
    from telemetry.models import HistoryPoint

    row = validation.validate(payload, now_ms=received_ms, max_age_ms=settings.TELEMETRY_MAX_AGE_S * 1000,
                              max_future_ms=settings.TELEMETRY_MAX_FUTURE_S * 1000)
    readings, _, _ = pipeline.decode([(b"0-0", _pack(uuid.UUID(vehicle_id), received_ms, row))])
    reading = readings[0]
    with transaction.atomic():
        try:
            with transaction.atomic():
                HistoryPoint.objects.create(
                    vehicle_id=reading.vehicle_id, seq=reading.seq, at=reading.at, received_at=reading.received_at,
                    lat=reading.lat, lon=reading.lon, speed_kph=reading.speed_kph, battery_pct=reading.battery_pct,
                    heading=reading.heading, accuracy_m=reading.accuracy_m, alarms=list(reading.alarms) or None)
        except IntegrityError:
            return
        v = Vehicle.objects.select_related("vehicle_type").get(id=reading.vehicle_id)
        before = VehicleBefore(v.id, v.city_id, v.vehicle_type.code, v.status, v.trip_id, v.lat, v.lon,
                               v.position_at, v.battery_pct, v.locked, v.last_seen_at, v.code)
        location = (fleet_services.Location(reading.lat, reading.lon)
                    if reading.lat is not None and reading.lon is not None else None)
        fleet_services.vehicle_record_reading(vehicle_id=v.id, at=reading.at, location=location,
                                              battery_pct=reading.battery_pct, speed_kph=reading.speed_kph)
        Vehicle.objects.filter(id=v.id).update(last_seen_at=datetime.now(UTC))
        reactions.react(readings=[reading], before={v.id: before})
    streams.client().incr(streams.key(DONE_KEY))


def _pack(vehicle_id: uuid.UUID, received_ms: int, row: list[object]) -> bytes:
    from telemetry import ingest

    return ingest.pack_entry(vehicle_id, received_ms, [row])
