"""Per-vehicle IoT credentials: a 256-bit random secret, stored as its SHA-256, rotatable by ops.

A fast hash is right here (not PBKDF2/Argon2): the secret is 256 random bits, so there is nothing to
brute-force, and ``vehicle_authenticate`` runs on every telemetry message.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from core import audit
from fleet.models import Vehicle
from fleet.services.transitions import lock_vehicle

CACHE_PREFIX = "fleet:vcred:"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def credential_cache_keys(vehicle: Vehicle) -> list[str]:
    return [f"{CACHE_PREFIX}{vehicle.id}", f"{CACHE_PREFIX}{vehicle.code}"]


@transaction.atomic
def vehicle_credential_rotate(*, vehicle_id: uuid.UUID, actor: Any = None) -> str:
    """Give the vehicle a new secret and return it: the only time it is visible. The old one stops working
    when this commits (the authentication cache entries are dropped on commit)."""
    vehicle = lock_vehicle(vehicle_id)
    was = vehicle.secret_hash
    secret = secrets.token_urlsafe(32)
    vehicle.secret_hash = hash_secret(secret)
    vehicle.secret_rotated_at = timezone.now()
    vehicle.save(update_fields=["secret_hash", "secret_rotated_at", "updated_at"])
    audit.audit_staff_action(actor=actor, action="fleet.credential_rotate", obj=vehicle,
                             before={"secret_hash": was}, after={"secret_hash": vehicle.secret_hash})
    keys = credential_cache_keys(vehicle)
    transaction.on_commit(lambda: cache.delete_many(keys))
    return secret


@transaction.atomic
def vehicle_credential_revoke(*, vehicle_id: uuid.UUID, actor: Any = None) -> None:
    """Remove the vehicle's secret (e.g. a stolen IoT unit): it cannot authenticate until rotated again."""
    vehicle = lock_vehicle(vehicle_id)
    was = vehicle.secret_hash
    vehicle.secret_hash = ""
    vehicle.secret_rotated_at = timezone.now()
    vehicle.save(update_fields=["secret_hash", "secret_rotated_at", "updated_at"])
    audit.audit_staff_action(actor=actor, action="fleet.credential_revoke", obj=vehicle,
                             before={"secret_hash": was}, after={"secret_hash": ""})
    keys = credential_cache_keys(vehicle)
    transaction.on_commit(lambda: cache.delete_many(keys))
