"""Slow-zone speed limits end to end (HTTP edge -> stream -> batch worker -> react), their idempotency keys, and
what happens when a vehicle's speed-limit command cannot be queued: one ops alert, the rest of the batch applied.

Only the network edges are replaced: the vehicle gateway (a recording one) and the channel layer send (recorded).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import DataError
from django.test import Client

from fleet import services as fleet_services
from fleet.models import Command, CommandKind, CommandState, OpsAlert, OpsAlertKind
from rides.models import RideTrackPoint
from telemetry import pipeline
from telemetry.reactions import react
from telemetry.reactions import vehicle as reactions_vehicle
from telemetry.validation import SEQ_MAX
from tests.fleet.factories import ZoneFactory, square
from tests.fleet.gateways import RecordingGateway
from tests.telemetry import test_reactions as base
from tests.telemetry.conftest import URL, auth, message
from tests.telemetry.test_reactions import IN_SLOW, OUTSIDE, at, before_of, reading, riding, run

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


# --- a speed limit that cannot be queued ------------------------------------------------------------------------

def test_a_speed_limit_that_cannot_be_queued_opens_one_alert_and_the_rest_of_the_batch_applies(
    city: Any, scooter: Any, rider: Any, other_rider: Any, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any,
) -> None:
    broken, broken_ride = riding(city, scooter, rider)
    fine, fine_ride = riding(city, scooter, other_rider)
    real_queue = fleet_services.commands_queue_many

    def queue(*, commands: Any) -> Any:
        if any(c[0] == broken.id for c in commands):
            raise DataError("value too long for type character varying(100)")
        return real_queue(commands=commands)

    monkeypatch.setattr(fleet_services, "commands_queue_many", queue)
    batch = [reading(broken, 1, (52.499, 13.405)), reading(broken, 2, IN_SLOW, alarms=("tamper",)),
             reading(fine, 1, (52.499, 13.405)), reading(fine, 2, IN_SLOW)]
    with caplog.at_level(logging.INFO, logger="telemetry"):
        counters = run(django_capture_on_commit_callbacks, batch, broken, fine)

    assert (counters["speed_limits"], counters["errors"], counters["alerts_opened"]) == (1, 1, 2)
    assert list(Command.objects.values_list("vehicle_id", "params")) == [(fine.id, {"max_speed_kph": 12})]
    alert = OpsAlert.objects.get(vehicle=broken, kind=OpsAlertKind.SPEED_LIMIT_NOT_APPLIED)
    assert (alert.severity, alert.city_id, alert.resolved_at) == ("warning", city.id, None)
    assert {k: alert.data[k] for k in ("max_speed_kph", "reason", "seq", "ride_id")} == {
        "max_speed_kph": 12, "reason": "DataError", "seq": 2, "ride_id": str(broken_ride.id)}
    # The rest of the broken vehicle's batch and the other vehicle's are applied, not rolled back.
    assert OpsAlert.objects.filter(vehicle=broken, kind="tamper").exists()
    assert not OpsAlert.objects.filter(vehicle=fine).exists()
    assert {RideTrackPoint.objects.filter(ride=r).count() for r in (broken_ride, fine_ride)} == {2}
    # Logged once with the vehicle (with its traceback); the batch-wide attempt adds one line, no traceback.
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert [(r.levelname, str(broken.id) in r.getMessage()) for r in tracebacks] == [("ERROR", True)]
    assert [r.levelname for r in caplog.records if "speed_limit" in r.getMessage()] == ["WARNING", "ERROR"]


def test_the_alert_stays_one_per_vehicle_while_open(
    city: Any, scooter: Any, rider: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any,
) -> None:
    vehicle, _ = riding(city, scooter, rider)

    def queue(*, commands: Any) -> Any:
        raise DataError("value too long for type character varying(100)")

    monkeypatch.setattr(fleet_services, "commands_queue_many", queue)
    first = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, IN_SLOW)], vehicle)
    again = run(django_capture_on_commit_callbacks, [reading(vehicle, 2, OUTSIDE)], vehicle)  # leaving: fails too
    assert (first["alerts_opened"], again.get("alerts_opened", 0), again["errors"]) == (1, 0, 1)
    assert OpsAlert.objects.filter(vehicle=vehicle, kind=OpsAlertKind.SPEED_LIMIT_NOT_APPLIED).count() == 1
    assert not Command.objects.exists()


def test_a_throttle_cut_refused_for_a_moving_vehicle_opens_an_alert(
    city: Any, scooter: Any, rider: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    ZoneFactory.create(city=city, kind="slow", name="Pedestrian street", priority=1,
                       geometry=square(13.44, 52.50, 0.01), maximum_speed_kph=0)
    vehicle, _ = riding(city, scooter, rider, speed_kph=18)
    counters = run(django_capture_on_commit_callbacks, [reading(vehicle, 1, (52.505, 13.445))], vehicle)
    assert (counters.get("speed_limits", 0), counters["errors"], counters["alerts_opened"]) == (0, 1, 1)
    assert not Command.objects.exists()
    alert = OpsAlert.objects.get(vehicle=vehicle)
    assert (alert.kind, alert.data["reason"], alert.data["max_speed_kph"]) == (
        OpsAlertKind.SPEED_LIMIT_NOT_APPLIED, "vehicle_moving", 0)
