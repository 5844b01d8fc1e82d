"""Mobile push (the phone's notification tray): the backends. ``settings.PUSH_BACKEND`` is the dotted path of a
``PushBackend`` subclass; ``accounts.services.push_deliveries`` calls it from a Celery task, once per device.

Shipped: ``accounts.fcm.FcmPushBackend`` (Firebase Cloud Messaging HTTP v1, Android and iOS),
``LogPushBackend`` (the default in development: logs the message) and ``LocmemPushBackend`` (tests: keeps them in
``accounts.push.outbox``). With DEBUG off the last two are refused at start-up (core.checks). The in-app inbox
and the live WebSocket push do not depend on this backend.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushMessage:
    """One notification for one device, in the rider's language."""

    token: str
    provider: str
    platform: str
    notification_id: uuid.UUID
    kind: str
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False
    expires_at: datetime | None = None  # the provider may drop it after this (an offline phone)


class PushError(Exception):
    """A push that was not delivered; the subclasses say what to do about it."""


class PushTokenInvalid(PushError):
    """The provider no longer knows the token (app uninstalled, token rotated, another project's): remove it."""


class PushTransientError(PushError):
    """Try again later (quota, provider down, network): ``retry_after_s`` if the provider said how long."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PushRejected(PushError):
    """Refused for good (a malformed message, credentials the provider refuses): not retried."""


class PushBackend:
    def send(self, *, message: PushMessage) -> None:
        """Deliver one message or raise a ``PushError``; any other exception counts as transient."""
        raise NotImplementedError

    @classmethod
    def configuration_errors(cls) -> list[str]:
        """What is missing for this backend to work (start-up refuses to run with any, core.checks)."""
        return []


class LogPushBackend(PushBackend):
    def send(self, *, message: PushMessage) -> None:
        logger.info("push to %s %s: [%s] %s", message.platform, message.token[:12], message.kind, message.title)


outbox: list[PushMessage] = []


class LocmemPushBackend(PushBackend):
    def send(self, *, message: PushMessage) -> None:
        outbox.append(message)


def backend() -> PushBackend:
    backend_class: type[PushBackend] = import_string(settings.PUSH_BACKEND)
    return backend_class()
