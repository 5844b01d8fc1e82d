"""``vehicle_authenticate``: checks a vehicle's IoT secret; telemetry calls it on every message."""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from fleet.models import Vehicle
from fleet.services.credentials import CACHE_PREFIX, hash_secret

# Nothing longer names a vehicle (every spelling of a UUID, "urn:uuid:..." included; a code of 12 characters with
# blanks around it) or is one of its secrets (43 characters, ``secrets.token_urlsafe(32)``). Longer ones are refused
# before any cache: the Redis key ``fleet:vcred:<identifier>`` and the MQTT bridge's (identifier, secret) entries
# would otherwise be as long as a caller likes.
IDENTIFIER_MAX_LENGTH = 64
SECRET_MAX_LENGTH = 128


def credentials_bounded(identifier: str, secret: str) -> bool:
    """Short enough to be a vehicle's identifier and secret (only these are looked up and cached)."""
    return len(identifier) <= IDENTIFIER_MAX_LENGTH and len(secret) <= SECRET_MAX_LENGTH


@dataclass(frozen=True, slots=True)
class VehicleIdentity:
    id: uuid.UUID
    code: str
    city_id: uuid.UUID
    vehicle_type_id: uuid.UUID


def _canonical(identifier: str) -> tuple[str, dict[str, object]]:
    """The one cache key and lookup of an identifier: "ber001", "BER001" and every spelling of a UUID must share
    the cache entry that rotation deletes, or an old secret would keep working under another spelling."""
    try:
        vehicle_id = uuid.UUID(identifier)
    except ValueError:
        code = identifier.strip().upper()
        return code, {"code": code}
    return str(vehicle_id), {"id": vehicle_id}


def _load(identifier: str) -> tuple[str, ...] | None:
    """(secret_hash, id, code, city_id, type_id) from the cache, else from the database (then cached)."""
    canonical, lookup = _canonical(identifier)
    key = f"{CACHE_PREFIX}{canonical}"
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached) if cached else None
    row = Vehicle.objects.filter(**lookup).values_list("secret_hash", "id", "code", "city_id", "vehicle_type_id").first()
    value = tuple(str(part) for part in row) if row is not None else ()
    # Unknown identifiers are cached too (as empty), so a flood of bad ids does not reach the database.
    cache.set(key, list(value), settings.FLEET_CREDENTIAL_CACHE_S)
    return value or None


def vehicle_authenticate(identifier: str | uuid.UUID, secret: str) -> VehicleIdentity | None:
    """The vehicle whose id (UUID) or sticker code is ``identifier`` if ``secret`` is its current secret.

    At most one cache read per call (Redis, ``FLEET_CREDENTIAL_CACHE_S``); rotation and revocation drop the
    cache entries when they commit, so an old secret stops working at once. Constant-time comparison.
    """
    if not credentials_bounded(str(identifier), secret):
        return None
    row = _load(str(identifier))
    if row is None:
        return None
    secret_hash, vehicle_id, code, city_id, type_id = row
    if not secret_hash or not hmac.compare_digest(secret_hash, hash_secret(secret)):
        return None
    return VehicleIdentity(uuid.UUID(vehicle_id), code, uuid.UUID(city_id), uuid.UUID(type_id))
