"""What a rider still needs before a first ride, so that an app asks before the rider stands at a scooter.

The rules live above accounts: the rides app refuses a start or a reservation (``date_of_birth_required``), with
billing's money gate (``payment_method_required``, ``outstanding_debt``). accounts may not import them (layers), so
they register a provider here, in their ``AppConfig.ready``, as every app declares its ``ROLE_PERMISSIONS`` for
``accounts.services.roles``. ``GET /api/v1/me`` lists what the providers return.

A requirement's ``code`` is the error code the refusing call answers with, so an app handles both alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from accounts.models import User


@dataclass(frozen=True)
class RequirementAction:
    """The call that satisfies a requirement: ``PATCH /api/v1/me`` with ``body_fields``, ``POST /api/v1/...``."""

    method: str
    path: str
    body_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirement:
    code: str
    message: str
    action: RequirementAction
    details: dict[str, Any] = field(default_factory=dict)


RequirementProvider = Callable[[User], list[Requirement]]

# name -> provider, in registration order; by name so that a second ``ready()`` (tests) replaces, not repeats.
_providers: dict[str, RequirementProvider] = {}


def register_provider(name: str, provider: RequirementProvider) -> None:
    _providers[name] = provider


def requirements_for(user: User) -> list[Requirement]:
    """Everything still missing for ``user`` to start a ride, from every registered provider."""
    return [requirement for provider in _providers.values() for requirement in provider(user)]


__all__ = ["Requirement", "RequirementAction", "RequirementProvider", "register_provider", "requirements_for"]
