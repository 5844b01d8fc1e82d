"""The public ``vehicle_id`` of GBFS: rotates after every trip, without storing anything.

``vehicle_id = hex(HMAC-SHA256(key, "<vehicle uuid>:<latest trip id>"))[:26]``, the key derived from ``SECRET_KEY``.
The latest trip id changes once per trip (``fleet.selectors.gbfs.public_vehicles``), so the id changes once per
trip, and without the server's secret nobody can link two ids of one vehicle nor compute the id of a known vehicle.
PostgreSQL computes the same MAC when it renders ``vehicle_status`` (from the key's pads); ``public_vehicle_id`` is
the same function in Python. What is still visible (and what GBFS itself publishes): where a vehicle stands between
trips, and its range. docs/gbfs.md "Privacy".
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

from django.conf import settings

ID_LENGTH = 26  # hex digits: 104 bits


def _key() -> bytes:
    return hashlib.sha256(b"feeds.gbfs.vehicle_id:" + settings.SECRET_KEY.encode()).digest()


def mac_pads() -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer key pads (RFC 2104), for the database to compute the same ids."""
    key = _key().ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def public_vehicle_id(vehicle_id: uuid.UUID, last_trip_id: uuid.UUID | None) -> str:
    message = f"{vehicle_id}:{last_trip_id or ''}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:ID_LENGTH]
