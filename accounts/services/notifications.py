"""Notifications to a user: stored (the app's inbox) in the user's language, pushed live (``core.push.to_user``)
and to the phone (``accounts.services.push_deliveries``), both after commit so a rolled-back change never
notifies."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone, translation

from accounts import errors, selectors
from accounts.models import Notification, User
from accounts.services import push_deliveries
from core import push as live_push

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def notification_payload(notification: Notification) -> dict[str, Any]:
    """The JSON form, as in the API and the ``notification`` live event."""
    return {
        "id": str(notification.id), "kind": notification.kind, "title": notification.title,
        "body": notification.body, "data": notification.data, "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


def notify(*, user_id: uuid.UUID, kind: str, title: StrOrPromise, body: StrOrPromise = "",
           data: Mapping[str, Any] | None = None) -> Notification:
    """Store a notification for ``user_id`` and push it (WebSocket group ``user.<id>``, mobile push) after commit.

    ``title`` and ``body`` are best lazy translations (``gettext_lazy``, ``format_lazy``): they are rendered in the
    user's language (``selectors.push_recipient``). Works inside or outside a transaction; ``data`` must be
    JSON-serialisable. Whether and when the phone is told follows the user's preferences and quiet hours.
    """
    recipient = selectors.push_recipient(user_id=user_id)
    with translation.override(recipient.language):
        title_text, body_text = str(title), str(body)
    with transaction.atomic():
        notification = Notification.objects.create(user_id=user_id, kind=kind[:64], title=title_text[:200],
                                                   body=body_text, data=dict(data or {}),
                                                   created_at=timezone.now())
        deliveries = push_deliveries.deliveries_plan(notification=notification, recipient=recipient)
    live_push.to_user(user_id, "notification", notification_payload(notification))
    if deliveries:
        transaction.on_commit(lambda: push_deliveries.deliveries_enqueue(deliveries=deliveries))
    return notification


def notification_mark_read(*, user: User, notification_id: uuid.UUID) -> Notification:
    """Mark the user's notification read (the first time counts; again is a no-op). 404 for anyone else's."""
    now = timezone.now()
    Notification.objects.filter(id=notification_id, user=user, read_at__isnull=True).update(read_at=now)
    found = Notification.objects.filter(id=notification_id, user=user).first()
    if found is None:
        raise errors.NotificationNotFound()
    return found
