"""MDS fixtures: a city, an agency regulating it, a token, and ``mds_client`` (that token plus the MDS 2.0 Accept).

``mds_client.get(path)`` sends ``Authorization: Bearer <token>`` and ``Accept: application/vnd.mds+json;version=2.0``
unless the call passes its own ``HTTP_ACCEPT``/``HTTP_AUTHORIZATION``.
"""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from feeds.mds import services
from feeds.models import Agency
from fleet.models import City
from tests.fleet.factories import CityFactory

MDS_ACCEPT = "application/vnd.mds+json;version=2.0"


class MdsClient(APIClient):
    """An agency's client: its bearer token and the MDS 2.0 ``Accept`` on every request."""

    token: str

    def with_token(self, token: str | None) -> MdsClient:
        self.token = token or ""
        self.credentials(**({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}))
        return self

    def get(self, path: str, data: Any = None, follow: bool = False, **extra: Any) -> Any:  # type: ignore[override]
        extra.setdefault("HTTP_ACCEPT", MDS_ACCEPT)
        return super().get(path, data, follow, **extra)


@pytest.fixture
def mds_city(db: Any) -> City:
    return CityFactory.create(slug="mds-city", name="MDS City")


@pytest.fixture
def other_city(db: Any) -> City:
    return CityFactory.create(slug="other-city", name="Other City")


@pytest.fixture
def agency(mds_city: City) -> Agency:
    return services.agency_ensure(name="MDS City Transport Agency", city_slugs=[mds_city.slug])


@pytest.fixture
def mds_token(agency: Agency) -> str:
    return services.credential_issue(agency=agency)[1]


@pytest.fixture
def mds_client(mds_token: str) -> MdsClient:
    return MdsClient().with_token(mds_token)


@pytest.fixture
def anonymous_mds_client(db: Any) -> MdsClient:
    return MdsClient().with_token(None)
