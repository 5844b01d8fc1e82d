"""Fixtures of the push tests: the FCM stand-in with the FCM backend pointed at it, eager Celery, devices."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts import push
from accounts.models import Device, User
from accounts.services import devices
from config.celery import app as celery_app
from tests.accounts.fcm_standin import FcmStandIn


@pytest.fixture
def eager_celery() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def fcm(tmp_path: Path, settings: Any) -> Iterator[FcmStandIn]:
    """The FCM backend, talking to a stand-in server through the public settings only."""
    with FcmStandIn(tmp_path) as standin:
        settings.PUSH_BACKEND = "accounts.fcm.FcmPushBackend"
        settings.FCM_CREDENTIALS_FILE = str(standin.credentials_file)
        settings.FCM_PROJECT_ID = ""
        settings.FCM_ENDPOINT = standin.url
        settings.FCM_TIMEOUT_S = 5
        yield standin


@pytest.fixture
def locmem_push(settings: Any) -> list[push.PushMessage]:
    settings.PUSH_BACKEND = "accounts.push.LocmemPushBackend"
    push.outbox.clear()
    return push.outbox


def register(user: User, token: str | None = None, **fields: Any) -> Device:
    device, _ = devices.device_register(
        user=user, install_id=fields.pop("install_id", uuid.uuid4().hex), provider="fcm",
        platform=fields.pop("platform", "android"), token=token or f"tok-{uuid.uuid4().hex}", **fields)
    return device
