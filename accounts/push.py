"""Pluggable mobile push (the phone's notification tray). ``settings.PUSH_BACKEND`` is the dotted path of a
``PushBackend`` subclass.

Shipped: ``LogPushBackend`` (the default: logs the notification) and ``LocmemPushBackend`` (tests: keeps them in
``accounts.push.outbox``). Firebase Cloud Messaging or APNs plug in here: a subclass whose ``send`` looks up the
user's device tokens and calls the provider (better from a Celery task when the provider is slow). The in-app
inbox and the live WebSocket push do not depend on this backend.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from accounts.models import Notification

logger = logging.getLogger(__name__)

outbox: list[Notification] = []


class PushBackend:
    def send(self, *, notification: Notification) -> None:
        raise NotImplementedError


class LogPushBackend(PushBackend):
    def send(self, *, notification: Notification) -> None:
        logger.info("push to %s: [%s] %s", notification.user_id, notification.kind, notification.title)


class LocmemPushBackend(PushBackend):
    def send(self, *, notification: Notification) -> None:
        outbox.append(notification)


def push_send(*, notification: Notification) -> None:
    """Send through the configured backend; a failure is logged, never raised (the inbox has the message)."""
    try:
        backend_class: type[PushBackend] = import_string(settings.PUSH_BACKEND)
        backend_class().send(notification=notification)
    except Exception:  # noqa: BLE001 - a push is best-effort
        logger.exception("mobile push of notification %s failed", notification.id)
