"""accounts.auth.signed_in_user: the typed user of an authenticated request, 401 for an anonymous one."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.auth import signed_in_user


def _request(user: Any) -> Request:
    request = Request(APIRequestFactory().get("/api/v1/me"))
    request.user = user
    return request


def test_returns_the_signed_in_account(rider: Any) -> None:
    assert signed_in_user(_request(rider)) == rider


def test_anonymous_is_not_authenticated() -> None:
    with pytest.raises(NotAuthenticated) as raised:
        signed_in_user(_request(AnonymousUser()))
    assert raised.value.status_code == 401
    assert raised.value.get_codes() == "not_authenticated"
