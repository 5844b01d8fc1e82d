"""A bounded schemathesis run over every operation of the OpenAPI schema, as an anonymous caller, a rider and staff.

Checks: no 5xx, every status and content type documented, bodies match their schema. The seed is printed with a
failure; ``FUZZ_SEED=<seed>`` replays it and ``FUZZ_EXAMPLES`` sets the examples per operation (default 10), e.g.
``FUZZ_SEED=123 make pytest PYTEST_ARGS=tests/core/test_fuzz.py``.

Schemathesis's own pytest integration (lazy schemas) does not run on pytest 9, so each operation's strategy is run
through hypothesis here.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, seed, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.accounts.factories import UserFactory
from tests.fleet.factories import VehicleFactory

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("FUZZ_SEED") or secrets.randbelow(2**32))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 10)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def headers_of(role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    user: Any = UserFactory(is_staff=role == "staff", is_superuser=role == "staff")
    return {"Authorization": f"Bearer {RefreshToken.for_user(user).access_token}"}


def fuzz(operation: Any, headers: dict[str, str]) -> None:
    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.fixture
def wsgi_app(db: Any, settings: Any) -> Any:
    """The WSGI application in the test's transaction: like Django's test client, requests keep the connection."""
    settings.API_DOCS_PUBLIC = True  # werkzeug's requests have no REMOTE_ADDR, and the schema is not public (core.access)
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield WSGIHandler()
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.mark.parametrize("role", ["anonymous", "rider", "staff"])
def test_every_operation_answers_as_documented(role: str, wsgi_app: Any) -> None:
    VehicleFactory.create_batch(3)  # something for nearby, zones and commands to find
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    headers = headers_of(role)
    failures = []
    for operation in (op for methods in schema.values() for op in methods.values()):
        try:
            fuzz(operation, headers)
        except Exception as exc:  # noqa: BLE001 - every operation is tried; all failures are reported together
            failures.append(f"{operation.label}: {exc}")
    assert not failures, f"fuzz seed {SEED} ({role}), replay with FUZZ_SEED={SEED}:\n" + "\n\n".join(failures)
