"""Shared fixtures: an API client that authenticates with real JWTs, users, Redis cleanup, an empty telemetry history
after each transactional test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.accounts.factories import UserFactory


class Api(APIClient):
    """``api.as_(user).post(...)``: requests carry a real ``Authorization: Bearer`` access token."""

    def as_(self, user: Any) -> Api:
        token = RefreshToken.for_user(user).access_token
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return self

    def anonymous(self) -> Api:
        self.credentials()
        return self


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    # The audit log refuses TRUNCATE (core migration 0002) except to a session that says
    # freewheel.audit_truncate=allow: the flush that ends each transactional test truncates every table.
    from django.conf import settings

    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c freewheel.audit_truncate=allow".strip()


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Throttle counters live in the Redis cache; each test starts with none.
    cache.clear()


def _transactional(request: pytest.FixtureRequest) -> bool:
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return True
    marker = request.node.get_closest_marker("django_db")  # pytest-django: django_db(transaction=True)
    return marker is not None and bool(marker.kwargs.get("transaction", marker.args[0] if marker.args else False))


@pytest.fixture(autouse=True)
def _empty_telemetry_history(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    # The history (telemetry_reading) is an unmanaged partitioned table: the flush that ends a transactional test
    # leaves it alone, so readings such a test applied, and the day partitions it created, would be seen by the
    # tests after it (and by the next run with --reuse-db).
    yield
    if _transactional(request):
        from telemetry import storage

        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("TRUNCATE telemetry_reading")
            for day in storage.partitions():
                cursor.execute(f"DROP TABLE {storage.partition_name(day)}")
        storage._known.clear()  # this process must not believe the dropped partitions exist


@pytest.fixture
def rider(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def other_rider(db: Any) -> Any:
    return UserFactory()
