"""The public ``vehicle_id`` of GBFS: rotates after every trip, without storing anything.

``vehicle_id = base32(HMAC-SHA256(SECRET_KEY, "<vehicle uuid>:<latest trip id>"))[:26]``. The latest trip id
changes once per trip (``fleet.selectors.gbfs.public_vehicles``), so the id changes once per trip, and without
the server's secret nobody can link two ids of one vehicle nor compute the id of a known vehicle. What is still
visible (and what GBFS itself publishes): where a vehicle stands between trips, and its range. docs/gbfs.md.
"""

from __future__ import annotations

import base64
import uuid

from django.utils.crypto import salted_hmac

_SALT = "feeds.gbfs.vehicle_id"


def public_vehicle_id(vehicle_id: uuid.UUID, last_trip_id: uuid.UUID | None) -> str:
    """26 lower-case letters and digits (130 bits), a new one after every trip."""
    digest = salted_hmac(_SALT, f"{vehicle_id}:{last_trip_id or ''}", algorithm="sha256").digest()
    return base64.b32encode(digest).decode()[:26].lower()
