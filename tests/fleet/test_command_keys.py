"""The ops command API's idempotency key: any ``Idempotency-Key`` the API accepts (1-255 printable characters)
fits ``Command.idempotency_key`` (100), and keys that differ only past the column's length stay different."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import IdempotencyKey
from fleet.models import Command
from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory
from tests.fleet.gateways import RecordingGateway

pytestmark = pytest.mark.django_db

URL = "/api/v1/vehicles/{}/commands"
KEY_MAX: int = Command._meta.get_field("idempotency_key").max_length or 0


@pytest.fixture(autouse=True)
def _recording_gateway(settings: Any) -> None:
    settings.VEHICLE_GATEWAY = "tests.fleet.gateways.RecordingGateway"
    RecordingGateway.sent, RecordingGateway.behaviour = [], "ok"


def test_the_longest_idempotency_key_queues_one_command_per_caller_and_key(api: Any, staff: Any) -> None:
    vehicle = VehicleFactory.create()
    url = URL.format(vehicle.id)
    key_a, key_b = "k" * 200 + "a" * 55, "k" * 200 + "b" * 55  # 255 characters, equal on their first 200
    first = api.as_(staff).post(url, {"kind": "locate"}, HTTP_IDEMPOTENCY_KEY=key_a)
    assert first.status_code == 202
    other_key = api.post(url, {"kind": "locate"}, HTTP_IDEMPOTENCY_KEY=key_b)
    assert other_key.status_code == 202 and other_key.json()["id"] != first.json()["id"]

    IdempotencyKey.objects.all().delete()  # the stored response expired: the command's own key still holds
    again = api.post(url, {"kind": "locate"}, HTTP_IDEMPOTENCY_KEY=key_a)
    assert (again.status_code, again.json()["id"]) == (202, first.json()["id"])

    colleague = UserFactory(is_staff=True, is_superuser=True)  # keys are private to their caller
    theirs = api.as_(colleague).post(url, {"kind": "locate"}, HTTP_IDEMPOTENCY_KEY=key_a)
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]

    keys = list(Command.objects.filter(vehicle=vehicle).values_list("idempotency_key", flat=True))
    assert len(keys) == 3 and all(k.startswith("api:") and len(k) <= KEY_MAX for k in keys)
