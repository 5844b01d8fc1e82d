"""What a caller can make the credential caches hold: an identifier that cannot name a vehicle, or a secret far
longer than any issued one, is refused before the Redis cache (``fleet:vcred:<identifier>``) and before the MQTT
bridge's in-memory cache, so neither keeps keys as long as a caller likes."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client

from fleet import selectors, services
from fleet.services.credentials import CACHE_PREFIX
from telemetry.mqtt.bridge import AuthCache
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db

LONG = "A" * 5000


def credential_keys() -> list[bytes]:
    """The credential cache's keys in Redis (read directly: Django warns about a key this long before using it)."""
    return sorted(redis.Redis.from_url(settings.REDIS_URL).scan_iter(match=f"*{CACHE_PREFIX}*"))


def test_an_identifier_too_long_to_name_a_vehicle_costs_no_cache_entry_and_no_query(
    django_assert_num_queries: Any,
) -> None:
    with django_assert_num_queries(0):
        r = Client().post("/api/v1/telemetry", data=[{"seq": 1, "ts": 1}], content_type="application/json",
                          HTTP_AUTHORIZATION=f"Vehicle {LONG}:secret")
        assert selectors.vehicle_authenticate("urn:uuid:" + "f" * 5000, "secret") is None
    assert (r.status_code, r.json()["error"]["code"]) == (401, "vehicle_auth_failed")
    assert credential_keys() == []
    assert selectors.vehicle_authenticate("NOSUCH", "secret") is None  # a plausible unknown code is cached
    assert [key.rsplit(b":", 1)[1] for key in credential_keys()] == [b"NOSUCH"]


def test_every_spelling_of_a_vehicle_and_its_secret_still_authenticates() -> None:
    vehicle = VehicleFactory.create()
    secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    for identifier in (str(vehicle.id), f"urn:uuid:{vehicle.id}", f"{{{vehicle.id}}}", vehicle.id.hex.upper(),
                       f"  {vehicle.code.lower()}  "):
        identity = selectors.vehicle_authenticate(identifier, secret)
        assert identity is not None and identity.id == vehicle.id, identifier
    assert selectors.vehicle_authenticate(vehicle.id, secret + "x" * 5000) is None


def test_the_mqtt_bridge_caches_no_refusal_of_an_oversized_identifier_or_secret() -> None:
    vehicle = VehicleFactory.create()
    secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    auth = AuthCache(ttl=60)
    assert auth.get(vehicle.code, "s" * 200_000) is None
    assert auth.get(LONG, secret) is None
    auth.prefetch({(vehicle.code, "t" * 200_000), (LONG + "B", secret)})
    assert len(auth._entries) == 0
    assert auth.get(vehicle.code, secret) is not None and len(auth._entries) == 1
