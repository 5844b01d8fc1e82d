"""Notifications to a user: stored (the app's inbox), pushed live (``core.push.to_user``) and to the phone
(``PUSH_BACKEND``), both after commit so a rolled-back change never notifies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import errors, push
from accounts.models import Notification, User
from core import push as live_push


def notification_payload(notification: Notification) -> dict[str, Any]:
    """The JSON form, as in the API and the ``notification`` live event."""
    return {
        "id": str(notification.id), "kind": notification.kind, "title": notification.title,
        "body": notification.body, "data": notification.data, "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


def notify(*, user_id: uuid.UUID, kind: str, title: str, body: str = "",
           data: Mapping[str, Any] | None = None) -> Notification:
    """Store a notification for ``user_id`` and push it (WebSocket group ``user.<id>``, mobile push) after commit.

    Works inside or outside a transaction; ``data`` must be JSON-serialisable.
    """
    notification = Notification.objects.create(user_id=user_id, kind=kind[:64], title=title[:200], body=body,
                                               data=dict(data or {}))
    live_push.to_user(user_id, "notification", notification_payload(notification))
    transaction.on_commit(lambda: push.push_send(notification=notification))
    return notification


def notification_mark_read(*, user: User, notification_id: uuid.UUID) -> Notification:
    """Mark the user's notification read (the first time counts; again is a no-op). 404 for anyone else's."""
    now = timezone.now()
    Notification.objects.filter(id=notification_id, user=user, read_at__isnull=True).update(read_at=now)
    found = Notification.objects.filter(id=notification_id, user=user).first()
    if found is None:
        raise errors.NotificationNotFound()
    return found
