"""Per-vehicle IoT credentials: hashed, rotatable, cached for telemetry, rotation invalidates at once."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from fleet import selectors, services
from fleet.models import Vehicle
from tests.fleet.factories import VehicleFactory


@pytest.mark.django_db(transaction=True)
def test_rotate_returns_the_secret_once_and_stores_only_its_hash() -> None:
    vehicle = VehicleFactory.create()
    secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    vehicle.refresh_from_db()
    assert len(secret) >= 43 and secret not in vehicle.secret_hash and len(vehicle.secret_hash) == 64
    identity = selectors.vehicle_authenticate(vehicle.id, secret)
    assert identity is not None and (identity.id, identity.code) == (vehicle.id, vehicle.code)
    assert selectors.vehicle_authenticate(vehicle.code.lower(), secret) == identity
    assert selectors.vehicle_authenticate(vehicle.id, secret + "x") is None
    assert selectors.vehicle_authenticate("NOSUCH", secret) is None


@pytest.mark.django_db(transaction=True)
def test_authentication_is_served_from_the_cache() -> None:
    vehicle = VehicleFactory.create()
    secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    assert selectors.vehicle_authenticate(vehicle.id, secret) is not None
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert selectors.vehicle_authenticate(vehicle.id, secret) is not None
    assert len(queries) == 0


@pytest.mark.django_db(transaction=True)
def test_rotation_invalidates_the_old_secret_at_once() -> None:
    vehicle = VehicleFactory.create()
    old = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    spellings: list[str | uuid.UUID] = [vehicle.code, vehicle.code.lower(), vehicle.id, str(vehicle.id).upper(),
                                        f"{{{vehicle.id}}}"]
    for spelling in spellings:
        assert selectors.vehicle_authenticate(spelling, old) is not None  # now cached under every spelling
    new = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    for spelling in spellings:
        assert selectors.vehicle_authenticate(spelling, old) is None
    assert selectors.vehicle_authenticate(vehicle.id, new) is not None


@pytest.mark.django_db(transaction=True)
def test_revoked_or_never_issued_credentials_do_not_authenticate() -> None:
    vehicle = VehicleFactory.create()
    assert selectors.vehicle_authenticate(vehicle.id, "") is None
    secret = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    selectors.vehicle_authenticate(vehicle.id, secret)
    services.vehicle_credential_revoke(vehicle_id=vehicle.id)
    assert selectors.vehicle_authenticate(vehicle.id, secret) is None
    assert Vehicle.objects.get(id=vehicle.id).secret_hash == ""


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_rotation_keeps_the_old_secret() -> None:
    vehicle = VehicleFactory.create()
    old = services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.vehicle_credential_rotate(vehicle_id=vehicle.id)
        raise RuntimeError("the caller failed after rotating")
    assert selectors.vehicle_authenticate(vehicle.id, old) is not None
