"""accounts.auth.admin_user: the typed user of an admin request, 403 for anyone else."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.test import RequestFactory

from accounts.auth import admin_user


def _request(user: Any) -> HttpRequest:
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_returns_the_signed_in_account(rider: Any) -> None:
    assert admin_user(_request(rider)) == rider


def test_anonymous_is_refused() -> None:
    with pytest.raises(PermissionDenied):
        admin_user(_request(AnonymousUser()))
