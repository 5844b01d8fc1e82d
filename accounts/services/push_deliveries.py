"""Mobile pushes of notifications: planned with the notification (preferences, quiet hours), attempted after
commit by a Celery task, once per device, retried with backoff; invalid tokens remove their device."""

from __future__ import annotations

import logging
import uuid
import zoneinfo
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import notification_kinds, push, selectors
from accounts.models import Device, Notification, NotificationPreference, PushDelivery
from accounts.models import PushDeliveryState as S

logger = logging.getLogger(__name__)

# A task may run a moment before its delivery's time (clocks of two workers): it still counts as due.
CLOCK_SLACK = timedelta(seconds=2)


def quiet_until(*, preference: NotificationPreference, time_zone: str, now: datetime) -> datetime | None:
    """The end of the quiet hours ``now`` falls in, in the rider's zone, or None outside quiet hours.
    Quiet hours may run over midnight (22:00-07:00)."""
    start, end = preference.quiet_hours_start, preference.quiet_hours_end
    if start is None or end is None:
        return None
    zone = zoneinfo.ZoneInfo(time_zone)
    local = now.astimezone(zone)
    moment = local.time().replace(tzinfo=None)
    inside = start <= moment < end if start < end else (moment >= start or moment < end)
    if not inside:
        return None
    day = local.date() if moment < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end.hour, end.minute), tzinfo=zone)


def deliveries_plan(*, notification: Notification, recipient: selectors.PushRecipient) -> list[PushDelivery]:
    """One delivery per device if the rider wants this category pushed; held until quiet hours end unless urgent.
    Caller: inside the transaction that stores the notification (``notify``)."""
    policy = notification_kinds.policy_of(notification.kind)
    if not recipient.device_ids:
        return []
    if policy.preference_field and not getattr(recipient.preference, policy.preference_field):
        return []
    now = notification.created_at
    held = None if policy.urgent else quiet_until(preference=recipient.preference, time_zone=recipient.time_zone,
                                                   now=now)
    return PushDelivery.objects.bulk_create([
        PushDelivery(notification=notification, device_id=device_id, created_at=now, next_attempt_at=held or now,
                     expires_at=now + policy.max_age)
        for device_id in recipient.device_ids
    ])


def deliveries_enqueue(*, deliveries: list[PushDelivery]) -> None:
    """After commit: a task for each delivery due now (held ones wait for the beat sweep)."""
    from accounts import tasks  # accounts.tasks imports the services

    now = timezone.now()
    for delivery in deliveries:
        if delivery.next_attempt_at <= now + CLOCK_SLACK:
            tasks.push_delivery_send.delay(str(delivery.id))


def backoff_s(attempt: int) -> int:
    """Delay after the ``attempt``-th failed attempt: base, 2 x base, 4 x base, ..."""
    return int(settings.PUSH_RETRY_BACKOFF_S * 2 ** (attempt - 1))


def push_delivery_attempt(*, delivery_id: uuid.UUID, now: datetime | None = None) -> int | None:
    """One attempt, if the delivery is due (a duplicate call, or one after it was sent, does nothing).
    Returns the seconds before the next attempt, or None (sent, given up, dropped, not due)."""
    now = now or timezone.now()
    claimed = PushDelivery.objects.filter(id=delivery_id, state=S.PENDING, next_attempt_at__lte=now + CLOCK_SLACK) \
        .update(state=S.SENDING, next_attempt_at=now)
    if not claimed:
        return None
    delivery = PushDelivery.objects.select_related("notification", "device").get(id=delivery_id)
    delay: int | None = None
    if delivery.device is None:
        _finish(delivery, S.FAILED, "the device was unregistered")
    elif now >= delivery.expires_at:
        _finish(delivery, S.EXPIRED, "stale: not sent in time")
    else:
        delay = _send(delivery, delivery.device, now)
    return delay


def _send(delivery: PushDelivery, device: Device, now: datetime) -> int | None:
    notification = delivery.notification
    message = push.PushMessage(
        token=device.token, provider=device.provider, platform=device.platform, notification_id=notification.id,
        kind=notification.kind, title=notification.title, body=notification.body, data=notification.data,
        urgent=notification_kinds.policy_of(notification.kind).urgent, expires_at=delivery.expires_at)
    delivery.attempts += 1
    try:
        push.backend().send(message=message)
    except push.PushTokenInvalid as exc:
        # Only this token: the app may have registered a new one meanwhile.
        Device.objects.filter(id=device.id, token=message.token).delete()
        logger.info("push token of device %s is invalid, removed: %s", device.id, exc)
        _finish(delivery, S.INVALID_TOKEN, str(exc))
        return None
    except push.PushRejected as exc:
        logger.error("push %s refused: %s", delivery.id, exc)
        _finish(delivery, S.FAILED, str(exc))
        return None
    except Exception as exc:  # noqa: BLE001 - transient (PushTransientError) or unexpected: both are retried
        return _retry_later(delivery, now, exc)
    Device.objects.filter(id=device.id).update(last_push_at=now)
    delivery.sent_at = timezone.now()
    _finish(delivery, S.SENT, "")
    return None


def _retry_later(delivery: PushDelivery, now: datetime, exc: Exception) -> int | None:
    error = str(exc) if isinstance(exc, push.PushTransientError) else f"{type(exc).__name__}: {exc}"
    retry_after = exc.retry_after_s if isinstance(exc, push.PushTransientError) else None
    if delivery.attempts >= settings.PUSH_MAX_ATTEMPTS:
        logger.warning("push %s failed %d times, giving up: %s", delivery.id, delivery.attempts, error)
        _finish(delivery, S.FAILED, error)
        return None
    delay = max(backoff_s(delivery.attempts), int(retry_after or 0))
    if now + timedelta(seconds=delay) >= delivery.expires_at:
        _finish(delivery, S.EXPIRED, f"stale before the next attempt; last: {error}")
        return None
    delivery.state, delivery.last_error = S.PENDING, error[:300]
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save(update_fields=["state", "attempts", "last_error", "next_attempt_at"])
    return delay


def _finish(delivery: PushDelivery, state: str, error: str) -> None:
    delivery.state, delivery.last_error = state, error[:300]
    delivery.save(update_fields=["state", "attempts", "last_error", "sent_at"])


def push_deliveries_due(*, now: datetime | None = None, limit: int = 1000) -> list[uuid.UUID]:
    """Beat: deliveries due now (quiet hours over, a retry whose task was lost) and those stuck in sending past
    twice the timeout (their worker died: tried again, so a push may rarely arrive twice)."""
    now = now or timezone.now()
    stuck = now - timedelta(seconds=2 * settings.FCM_TIMEOUT_S + 30)
    with transaction.atomic():
        PushDelivery.objects.filter(state=S.SENDING, next_attempt_at__lte=stuck).update(state=S.PENDING)
    return list(PushDelivery.objects.filter(state=S.PENDING, next_attempt_at__lte=now)
                .order_by("next_attempt_at").values_list("id", flat=True)[:limit])


PURGE_AFTER = timedelta(days=30)


def push_deliveries_purge(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Beat: forget finished deliveries older than 30 days (the notification itself stays in the inbox).
    Deletes in batches of ``batch`` so a big backlog never holds one long transaction."""
    now = now or timezone.now()
    finished = [S.SENT, S.FAILED, S.INVALID_TOKEN, S.EXPIRED]
    total = 0
    while True:
        ids = list(PushDelivery.objects.filter(state__in=finished, created_at__lt=now - PURGE_AFTER)
                   .values_list("id", flat=True)[:batch])
        if not ids:
            return total
        total += PushDelivery.objects.filter(id__in=ids).delete()[0]
