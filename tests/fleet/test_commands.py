"""Vehicle commands: queue -> send -> ack | fail | time out | expire, interlocks, duplicate delivery."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from fleet import errors, gateway, services, signals, tasks
from fleet.models import Command, CommandState
from tests.fleet.factories import VehicleFactory
from tests.fleet.gateways import RecordingGateway


@pytest.fixture(autouse=True)
def recording_gateway(settings: Any) -> Iterator[type[RecordingGateway]]:
    settings.VEHICLE_GATEWAY = "tests.fleet.gateways.RecordingGateway"
    RecordingGateway.sent, RecordingGateway.behaviour = [], "ok"
    yield RecordingGateway


@pytest.fixture
def eager_celery() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def queue(vehicle: Any, kind: str = "lock", **kwargs: Any) -> Command:
    return services.command_queue(vehicle_id=vehicle.id, kind=kind, **kwargs)


@pytest.mark.django_db
def test_queue_then_deliver_then_ack(django_capture_on_commit_callbacks: Any) -> None:
    vehicle = VehicleFactory.create(locked=False)
    with django_capture_on_commit_callbacks() as callbacks:
        command = queue(vehicle)
    assert command.state == CommandState.QUEUED and len(callbacks) == 1  # the send task, after commit
    command = services.command_deliver(command_id=command.id)
    assert command.state == CommandState.SENT and command.attempts == 1
    message = RecordingGateway.sent[0]
    assert (message.imei, message.kind, message.correlation_id) == (vehicle.imei, "lock", command.correlation_id)
    assert message.expires_at == command.expires_at
    command = services.command_ack(correlation_id=command.correlation_id, ok=True)
    assert command.state == CommandState.ACKED and command.acked_at is not None
    vehicle.refresh_from_db()
    assert vehicle.locked is True


@pytest.mark.django_db
def test_a_duplicate_task_delivery_sends_once() -> None:
    command = queue(VehicleFactory.create())
    services.command_deliver(command_id=command.id)
    again = services.command_deliver(command_id=command.id)
    assert again.state == CommandState.SENT and again.attempts == 1
    assert len(RecordingGateway.sent) == 1


@pytest.mark.django_db
def test_negative_ack_fails_and_duplicate_acks_change_nothing() -> None:
    command = queue(VehicleFactory.create(), kind="alarm")
    services.command_deliver(command_id=command.id)
    failed = services.command_ack(command_id=command.id, ok=False, detail="alarm hardware fault")
    assert (failed.state, failed.failure_reason) == (CommandState.FAILED, "alarm hardware fault")
    assert services.command_ack(command_id=command.id, ok=True).state == CommandState.FAILED


@pytest.mark.django_db
def test_unanswered_command_times_out_and_a_late_success_makes_it_acked_and_is_announced(
        django_capture_on_commit_callbacks: Any) -> None:
    vehicle = VehicleFactory.create(locked=True)
    command = services.command_deliver(command_id=queue(vehicle, kind="unlock").id)
    assert services.commands_expire_overdue() == {"timed_out": 0, "expired": 0}
    later = timezone.now() + timedelta(minutes=5)
    assert services.commands_expire_overdue(now=later) == {"timed_out": 1, "expired": 0}
    command.refresh_from_db()
    assert command.state == CommandState.TIMED_OUT and command.failure_reason == "no acknowledgement"
    announced: list[str] = []

    def receiver(sender: Any, command: Any, **kwargs: Any) -> None:
        announced.append(command.state)

    signals.command_closed.connect(receiver, dispatch_uid="test_late_success")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            late = services.command_ack(command_id=command.id, ok=True)
            again = services.command_ack(command_id=command.id, ok=True)  # a replay changes nothing
    finally:
        signals.command_closed.disconnect(dispatch_uid="test_late_success")
    assert late.state == again.state == CommandState.ACKED and late.acked_at is not None
    assert late.failure_reason == "no acknowledgement" and late.finished_at == command.finished_at  # when we gave up
    assert announced == [CommandState.ACKED]
    vehicle.refresh_from_db()
    assert vehicle.locked is False  # the vehicle did unlock: its lock state follows the truth


@pytest.mark.django_db
def test_a_late_refusal_is_recorded_only() -> None:
    vehicle = VehicleFactory.create(locked=True)
    command = services.command_deliver(command_id=queue(vehicle, kind="unlock").id)
    services.commands_expire_overdue(now=timezone.now() + timedelta(minutes=5))
    late = services.command_ack(command_id=command.id, ok=False, detail="jammed")
    assert late.state == CommandState.TIMED_OUT and late.acked_at is not None
    assert late.failure_reason == "no acknowledgement"
    vehicle.refresh_from_db()
    assert vehicle.locked is True


@pytest.mark.django_db
def test_an_expired_command_is_never_delivered() -> None:
    command = queue(VehicleFactory.create())
    Command.objects.filter(id=command.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    delivered = services.command_deliver(command_id=command.id)
    assert delivered.state == CommandState.EXPIRED and RecordingGateway.sent == []


@pytest.mark.django_db
def test_queued_commands_past_their_ttl_expire_in_the_sweep() -> None:
    command = queue(VehicleFactory.create(), kind="locate")
    assert services.commands_expire_overdue(now=timezone.now() + timedelta(hours=1)) == {"timed_out": 0, "expired": 1}
    command.refresh_from_db()
    assert command.state == CommandState.EXPIRED
    assert services.command_deliver(command_id=command.id).state == CommandState.EXPIRED
    assert RecordingGateway.sent == []


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "params"), [("lock", {}), ("set_speed_limit", {"max_speed_kph": 0})])
def test_no_lock_or_throttle_cut_for_a_moving_vehicle(kind: str, params: dict[str, Any]) -> None:
    moving = VehicleFactory.create(speed_kph=18.0)
    with pytest.raises(errors.VehicleMoving):
        queue(moving, kind=kind, params=params)
    # a vehicle that starts moving after the command was queued: refused at delivery
    vehicle = VehicleFactory.create(speed_kph=0.0)
    command = queue(vehicle, kind=kind, params=params)
    services.vehicle_record_reading(vehicle_id=vehicle.id, at=timezone.now(), speed_kph=22.0)
    delivered = services.command_deliver(command_id=command.id)
    assert (delivered.state, delivered.failure_reason) == (CommandState.FAILED, "vehicle_moving")
    assert RecordingGateway.sent == []


@pytest.mark.django_db
def test_other_commands_reach_a_moving_vehicle() -> None:
    vehicle = VehicleFactory.create(speed_kph=18.0)
    command = queue(vehicle, kind="set_speed_limit", params={"max_speed_kph": 15})
    assert services.command_deliver(command_id=command.id).state == CommandState.SENT


@pytest.mark.django_db
def test_idempotency_key_returns_the_same_command_and_refuses_a_different_one() -> None:
    vehicle = VehicleFactory.create()
    first = queue(vehicle, kind="locate", idempotency_key="k1")
    assert queue(vehicle, kind="locate", idempotency_key="k1") == first
    with pytest.raises(errors.CommandIdempotencyConflict):
        queue(vehicle, kind="alarm", idempotency_key="k1")
    assert Command.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "params"), [
    ("teleport", {}), ("lock", {"force": True}), ("set_speed_limit", {}), ("set_speed_limit", {"max_speed_kph": 300}),
])
def test_invalid_commands_are_refused(kind: str, params: dict[str, Any]) -> None:
    with pytest.raises(errors.CommandInvalid):
        queue(VehicleFactory.create(), kind=kind, params=params)


@pytest.mark.django_db
def test_gateway_outage_puts_the_command_back_for_retry_and_rejection_fails_it() -> None:
    command = queue(VehicleFactory.create(), kind="locate")
    RecordingGateway.behaviour = "error"
    with pytest.raises(gateway.GatewayError):
        services.command_deliver(command_id=command.id)
    command.refresh_from_db()
    assert command.state == CommandState.QUEUED
    RecordingGateway.behaviour = "reject"
    assert services.command_deliver(command_id=command.id).state == CommandState.FAILED


@pytest.mark.django_db
def test_ack_of_an_unsent_or_unknown_command() -> None:
    command = queue(VehicleFactory.create(), kind="locate")
    with pytest.raises(errors.CommandNotSent):
        services.command_ack(command_id=command.id, ok=True)
    with pytest.raises(errors.CommandNotFound):
        services.command_ack(correlation_id=uuid.uuid4(), ok=True)


@pytest.mark.django_db
def test_simulated_gateway_runs_the_whole_flow(settings: Any, eager_celery: None) -> None:
    settings.VEHICLE_GATEWAY = "fleet.gateway.SimulatedGateway"
    settings.VEHICLE_GATEWAY_SIM_MODE = "ack"
    vehicle = VehicleFactory.create(locked=False)
    command = queue(vehicle)
    tasks.command_send.delay(str(command.id))
    command.refresh_from_db()
    vehicle.refresh_from_db()
    assert command.state == CommandState.ACKED and vehicle.locked is True
    settings.VEHICLE_GATEWAY_SIM_MODE = "silent"
    silent = queue(vehicle, kind="locate")
    tasks.command_send.delay(str(silent.id))
    silent.refresh_from_db()
    assert silent.state == CommandState.SENT


@pytest.mark.django_db
def test_simulated_vehicle_ignores_a_command_that_would_arrive_after_expiry(settings: Any, eager_celery: None) -> None:
    settings.VEHICLE_GATEWAY = "fleet.gateway.SimulatedGateway"
    settings.VEHICLE_GATEWAY_SIM_LAG_S = 3600
    command = queue(VehicleFactory.create(), kind="unlock")
    tasks.command_send.delay(str(command.id))
    command.refresh_from_db()
    assert command.state == CommandState.SENT and command.acked_at is None


URL = "/api/v1/vehicles/{}/commands"


@pytest.mark.django_db
def test_ops_api_queues_a_command_and_riders_are_refused(api: Any, rider: Any, staff: Any) -> None:
    vehicle = VehicleFactory.create()
    r = api.as_(rider).post(URL.format(vehicle.id), {"kind": "locate"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "permission_denied")
    r = api.as_(staff).post(URL.format(vehicle.id), {"kind": "locate"}, HTTP_IDEMPOTENCY_KEY="abc")
    assert r.status_code == 202 and r.json()["state"] == "queued"
    got = api.get(f"/api/v1/commands/{r.json()['id']}")
    assert got.status_code == 200 and got.json()["kind"] == "locate"
    r = api.post(URL.format(uuid.uuid4()), {"kind": "locate"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "vehicle_not_found")
    r = api.get(f"/api/v1/commands/{uuid.uuid4()}")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "command_not_found")


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_command_send_it_once() -> None:
    import threading

    from django.db import connection

    command = queue(VehicleFactory.create(), kind="locate")
    barrier = threading.Barrier(4)

    def deliver() -> None:
        try:
            barrier.wait()
            services.command_deliver(command_id=command.id)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    command.refresh_from_db()
    assert (command.state, command.attempts, len(RecordingGateway.sent)) == (CommandState.SENT, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_an_answer_racing_the_timeout_sweep_ends_in_exactly_one_final_state() -> None:
    import threading

    from django.db import connection

    commands = [services.command_deliver(command_id=queue(VehicleFactory.create(), kind="locate").id) for _ in range(5)]
    later = timezone.now() + timedelta(minutes=5)

    def sweep() -> None:
        try:
            services.commands_expire_overdue(now=later)
        finally:
            connection.close()

    def answer() -> None:
        try:
            for command in commands:
                services.command_ack(command_id=command.id, ok=True)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep), threading.Thread(target=answer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for command in commands:
        command.refresh_from_db()
        assert command.state in (CommandState.ACKED, CommandState.TIMED_OUT)
        assert command.acked_at is not None and command.finished_at is not None


@pytest.mark.django_db
def test_closed_commands_are_announced_once_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    from fleet import signals

    seen: list[tuple[uuid.UUID, str]] = []

    def receiver(sender: Any, command: Command, command_id: uuid.UUID, state: str, **kwargs: Any) -> None:
        assert (command.id, command.state) == (command_id, state)
        seen.append((command_id, state))

    assert services.commands.command_closed is signals.command_closed
    signals.command_closed.connect(receiver)
    try:
        vehicle = VehicleFactory.create()
        acked = services.command_deliver(command_id=queue(vehicle, kind="locate").id)
        silent = services.command_deliver(command_id=queue(vehicle, kind="alarm").id)
        stale = queue(vehicle, kind="unlock")
        with django_capture_on_commit_callbacks(execute=True):
            services.command_ack(command_id=acked.id, ok=True)
        assert seen == [(acked.id, "acked")]
        with django_capture_on_commit_callbacks(execute=True):
            services.command_ack(command_id=acked.id, ok=True)  # a duplicate answer
            services.commands_expire_overdue(now=timezone.now() + timedelta(hours=1))
        assert sorted(seen[1:]) == sorted([(silent.id, "timed_out"), (stale.id, "expired")])
    finally:
        signals.command_closed.disconnect(receiver)


@pytest.mark.django_db
def test_a_cancelled_queued_command_is_never_sent(django_capture_on_commit_callbacks: Any) -> None:
    vehicle = VehicleFactory.create()
    command = queue(vehicle, "unlock")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cancelled = services.command_cancel(command_id=command.id, reason="ride cancelled: ops")
    assert cancelled is not None and cancelled.state == CommandState.CANCELLED
    # command_closed, as for any closed command, and its push to the city's ops sockets (fleet.receivers); no
    # re-lock for an unsent unlock
    assert len(callbacks) == 2
    assert not Command.objects.filter(vehicle=vehicle, kind="lock").exists()
    assert services.command_deliver(command_id=command.id).state == CommandState.CANCELLED
    assert RecordingGateway.sent == []
    assert services.command_cancel(command_id=command.id, reason="again") is None  # already closed


@pytest.mark.django_db
def test_a_cancelled_unlock_that_reached_the_unit_is_followed_by_a_lock_and_a_late_ack_is_recorded() -> None:
    vehicle = VehicleFactory.create(locked=True)
    command = services.command_deliver(command_id=queue(vehicle, "unlock").id)
    assert command.state == CommandState.SENT
    services.command_cancel(command_id=command.id, reason="ride cancelled: ops")
    relock = Command.objects.get(idempotency_key=f"{command.id}:relock")
    assert (relock.kind, relock.state) == ("lock", CommandState.QUEUED)
    late = services.command_ack(command_id=command.id, ok=True)  # the unit did unlock after all
    assert late.state == CommandState.ACKED and late.acked_at is not None
    assert late.failure_reason == "ride cancelled: ops"  # why it had been withdrawn
    vehicle.refresh_from_db()
    assert vehicle.locked is False  # what the unit says, until the re-lock is acknowledged


@pytest.mark.django_db
def test_a_new_key_skips_the_replay_look_up_but_a_taken_key_still_returns_its_command(
        django_assert_num_queries: Any) -> None:
    vehicle = VehicleFactory.create()
    with django_assert_num_queries(4):  # lock, savepoint, INSERT, release: no look-up by key
        first = queue(vehicle, "unlock", idempotency_key="ride:x:unlock:0", new_key=True)
    again = queue(vehicle, "unlock", idempotency_key="ride:x:unlock:0", new_key=True)  # the caller was wrong
    assert again.pk == first.pk and Command.objects.count() == 1
    with pytest.raises(errors.CommandIdempotencyConflict):
        queue(vehicle, "lock", idempotency_key="ride:x:unlock:0", new_key=True)
