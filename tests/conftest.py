"""Shared fixtures: an API client that authenticates with real JWTs, users, Redis cleanup."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
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


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Throttle counters live in the Redis cache; each test starts with none.
    cache.clear()


@pytest.fixture
def rider(db: Any) -> Any:
    return UserFactory()


@pytest.fixture
def other_rider(db: Any) -> Any:
    return UserFactory()
