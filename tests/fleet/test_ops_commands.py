"""``commands_queue_many``: the system's batch of commands (telemetry's slow-zone speed limits) in one INSERT."""

from __future__ import annotations

from typing import Any

import pytest

from fleet import errors, services
from fleet.models import Command, CommandState
from fleet.states import Status
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.django_db


def test_queues_each_key_once_skips_retired_vehicles_and_sends_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    a, b = VehicleFactory.create(), VehicleFactory.create(status=Status.RETIRED)
    limit = {"max_speed_kph": 12}
    with django_capture_on_commit_callbacks() as callbacks:
        queued = services.commands_queue_many(commands=[
            (a.id, "set_speed_limit", limit, "k-a"), (b.id, "set_speed_limit", limit, "k-b"),
        ])
    assert queued == [Command.objects.get(vehicle=a).id]
    assert len(callbacks) == 1  # command_send after commit
    command = Command.objects.get(vehicle=a)
    assert (command.state, command.params, command.attempts, command.correlation_id is not None) == (
        CommandState.QUEUED, limit, 0, True)
    assert command.expires_at > command.created_at
    assert services.commands_queue_many(commands=[(a.id, "set_speed_limit", limit, "k-a")]) == []
    assert Command.objects.count() == 1


@pytest.mark.parametrize(("kind", "params"), [("set_speed_limit", {"max_speed_kph": 0}), ("lock", {}),
                                              ("set_speed_limit", {"max_speed_kph": 101})])
def test_refuses_immobilising_or_invalid_commands(kind: str, params: dict[str, Any]) -> None:
    vehicle = VehicleFactory.create()
    with pytest.raises(errors.CommandInvalid):
        services.commands_queue_many(commands=[(vehicle.id, kind, params, "k")])
    assert not Command.objects.exists()
