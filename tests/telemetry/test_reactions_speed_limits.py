"""Slow-zone speed limits end to end (HTTP edge -> stream -> batch worker -> react), their idempotency keys, and
what happens when a vehicle's speed-limit command cannot be queued: one ops alert, the rest of the batch applied.

Only the network edges are replaced: the vehicle gateway (a recording one) and the channel layer send (recorded).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState, OpsAlert
from telemetry import pipeline
from telemetry.reactions import react
from telemetry.reactions import vehicle as reactions_vehicle
from telemetry.validation import SEQ_MAX
from tests.fleet.gateways import RecordingGateway
from tests.telemetry import test_reactions as base
from tests.telemetry.conftest import URL, auth, message
from tests.telemetry.test_reactions import IN_SLOW, at, before_of, reading, riding

# The reaction tests' fixtures: recording gateway and eager Celery, recorded pushes, the city and its zones.
_edges, pushes, city, scooter = base._edges, base.pushes, base.city, base.scooter

pytestmark = pytest.mark.django_db

KEY_MAX: int = Command._meta.get_field("idempotency_key").max_length or 0


# --- long seq, end to end ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("seq", [1765084300001, SEQ_MAX], ids=["13 digits (epoch ms)", "19 digits (largest)"])
def test_a_slow_zone_throttles_a_vehicle_whatever_its_seq(
    city: Any, scooter: Any, rider: Any, pushes: Any, seq: int, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, _ = riding(city, scooter, rider)
    secret = fleet_services.vehicle_credential_rotate(vehicle_id=vehicle.id)
    r = Client().post(URL, data=[message(seq, lat=IN_SLOW[0], lon=IN_SLOW[1])], content_type="application/json",
                      **auth(vehicle, secret))
    assert (r.status_code, r.json()["accepted"]) == (202, 1)

    with django_capture_on_commit_callbacks(execute=True):  # the batch's pushes and command sends
        assert pipeline.drain_until_empty() == 1

    command = Command.objects.get(vehicle=vehicle)
    assert (command.kind, command.params, command.state) == (CommandKind.SET_SPEED_LIMIT, {"max_speed_kph": 12},
                                                             CommandState.SENT)
    assert [(m.vehicle_id, m.kind, m.params) for m in RecordingGateway.sent] == [
        (vehicle.id, CommandKind.SET_SPEED_LIMIT, {"max_speed_kph": 12})]
    assert command.idempotency_key.startswith("telemetry:speed:") and len(command.idempotency_key) <= KEY_MAX
    assert not OpsAlert.objects.exists()
    assert [w["max_speed_kph"] for _, m in pushes if m.get("event") == "ride.zone_warning"
            for w in [m["payload"]]] == [12]


def test_the_speed_limit_key_is_bounded_and_names_one_reading() -> None:
    vehicle_id, zone_id = "6f1c2a9e-61a4-4d2b-9a3e-0b1c2d3e4f50", "0b1c2d3e-61a4-4d2b-9a3e-6f1c2a9e4f50"
    key = reactions_vehicle.speed_limit_key
    longest = key(vehicle_id, zone_id, SEQ_MAX)
    assert len(longest) <= KEY_MAX
    assert {len(key(vehicle_id, z, s)) for z in (zone_id, None) for s in (0, 7, 1765084300001, SEQ_MAX)} == {
        len(longest)}
    assert key(vehicle_id, zone_id, SEQ_MAX) == longest  # the same reading replayed: the same key
    others = {key(vehicle_id, zone_id, SEQ_MAX - 1), key(vehicle_id, None, SEQ_MAX),
              key(zone_id, vehicle_id, SEQ_MAX), key(vehicle_id, zone_id, 1765084300001)}
    assert longest not in others and len(others) == 4


def test_a_retried_batch_with_a_long_seq_queues_no_second_command(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any
) -> None:
    vehicle, _ = riding(city, scooter, rider)
    batch = [reading(vehicle, SEQ_MAX, IN_SLOW, when=at(1))]
    before = {vehicle.id: before_of(vehicle)}
    with django_capture_on_commit_callbacks(execute=True):
        first = react(readings=batch, before=before)
        again = react(readings=batch, before=before)  # committed but not XACKed: redelivered
    assert (first["speed_limits"], again.get("speed_limits", 0), again.get("errors", 0)) == (1, 0, 0)
    assert Command.objects.filter(vehicle=vehicle).count() == 1

