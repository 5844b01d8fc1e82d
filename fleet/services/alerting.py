"""Ops alerts delivered beyond the admin: route each newly opened alert to the endpoints that want it (city,
minimum severity, kinds), rate-limited per endpoint and window, then send with retries and exponential backoff.

Rate limiting (``ALERT_DIGEST_WINDOW_S``, ``ALERT_IMMEDIATE_PER_WINDOW``): windows are aligned to the epoch
(``floor(now / window)``). Per endpoint and window, the first alerts go out one message each; later ones are
appended to the window's single *digest* delivery (a partial unique constraint makes it one), sent once the window
has ended. So a storm (500 vehicles losing contact in a minute) is a handful of messages per endpoint, not 500.
Routing runs under the endpoint's row lock, which serialises two workers counting the same window.

Sending: ``alert_delivery_attempt`` claims the delivery with a conditional UPDATE (a duplicate task does nothing),
sends outside any transaction, records the attempt, and returns the delay before the next attempt (doubling from
``ALERT_DELIVERY_BACKOFF_S``) or None when done or given up (``ALERT_DELIVERY_MAX_ATTEMPTS``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet.models import (
    AlertChannel,
    AlertDelivery,
    AlertDeliveryAttempt,
    AlertEndpoint,
    AlertEvent,
    DeliveryState,
    OpsAlert,
)
from fleet.models.ops import SEVERITY_RANK
from fleet.services import webhook_target

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Freewheel-Signature"
TIMESTAMP_HEADER = "X-Freewheel-Timestamp"
SEVERITY_ICON = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def window_start(at: datetime) -> datetime:
    seconds = settings.ALERT_DIGEST_WINDOW_S
    return datetime.fromtimestamp(int(at.timestamp()) // seconds * seconds, tz=UTC)


def _wants(endpoint: AlertEndpoint, alert: OpsAlert) -> bool:
    return ((endpoint.city_id is None or endpoint.city_id == alert.city_id)
            and SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[endpoint.min_severity]
            and (not endpoint.kinds or alert.kind in endpoint.kinds))


def alerts_dispatch(*, alert_ids: Sequence[uuid.UUID], now: datetime | None = None,
                    event: str = AlertEvent.OPENED) -> list[AlertDelivery]:
    """Route opened alerts (still open now), or resolved ones (``event="resolved"``), to the endpoints; returns
    the deliveries to send at once. Digests are created or extended and sent when their window ends
    (``alert_deliveries_due``). A resolution goes only to endpoints that were sent the opening (delivered or still
    on its way, not given up), still want the alert, and have ``send_resolved``."""
    now = now or timezone.now()
    alerts = list(OpsAlert.objects.filter(id__in=alert_ids, resolved_at__isnull=event == AlertEvent.OPENED)
                  .order_by("opened_at"))
    if not alerts:
        return []
    cities = {a.city_id for a in alerts}
    wanted = AlertEndpoint.objects.filter(Q(city__isnull=True) | Q(city_id__in=cities), active=True)
    if event == AlertEvent.RESOLVED:
        wanted = wanted.filter(send_resolved=True)
    endpoints = list(wanted)
    received = _received(endpoints, alerts) if event == AlertEvent.RESOLVED else None
    routed: dict[uuid.UUID, list[OpsAlert]] = defaultdict(list)
    for endpoint in endpoints:
        for alert in alerts:
            if _wants(endpoint, alert) and (received is None or alert.id in received[endpoint.id]):
                routed[endpoint.id].append(alert)
    immediate: list[AlertDelivery] = []
    since = _since(alerts)
    for endpoint_id, group in routed.items():
        immediate.extend(_route(endpoint_id, [a.id for a in group], now, event, since))
    return immediate


def _since(alerts: list[OpsAlert]) -> datetime:
    """The first window a delivery of these alerts can be in (the one before the oldest opened, for clock skew)."""
    return window_start(alerts[0].opened_at) - timedelta(seconds=settings.ALERT_DIGEST_WINDOW_S)


def _received(endpoints: list[AlertEndpoint], alerts: list[OpsAlert]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """Per endpoint, which of these alerts it was sent (or is being sent) as opened: one query on the deliveries'
    (endpoint, window) index, from the window before the oldest alert opened (workers' clocks differ a little)."""
    ids = [a.id for a in alerts]
    rows = (AlertDelivery.objects.filter(endpoint__in=endpoints, window_start__gte=_since(alerts),
                                         event=AlertEvent.OPENED, alert_ids__overlap=ids)
            .exclude(state=DeliveryState.FAILED).values_list("endpoint_id", "alert_ids"))
    received: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    wanted = set(ids)
    for endpoint_id, sent in rows:
        received[endpoint_id] |= wanted.intersection(sent)
    return received


@transaction.atomic
def _route(endpoint_id: uuid.UUID, alert_ids: list[uuid.UUID], now: datetime, event: str,
           since: datetime) -> list[AlertDelivery]:
    AlertEndpoint.objects.select_for_update().filter(id=endpoint_id).first()  # one router per endpoint at a time
    # A dispatch task run twice (acks_late redelivery) routes nothing twice.
    done: set[uuid.UUID] = set()
    for sent in AlertDelivery.objects.filter(endpoint_id=endpoint_id, window_start__gte=since, event=event,
                                             alert_ids__overlap=alert_ids).values_list("alert_ids", flat=True):
        done.update(sent)
    alert_ids = [a for a in alert_ids if a not in done]
    if not alert_ids:
        return []
    start = window_start(now)
    # Openings and resolutions count separately: a storm of resolutions never digests a new alert.
    window = AlertDelivery.objects.filter(endpoint_id=endpoint_id, window_start=start, event=event)
    sent_count = window.filter(digest=False).count()
    room = max(0, settings.ALERT_IMMEDIATE_PER_WINDOW - sent_count)
    singles = [AlertDelivery(endpoint_id=endpoint_id, alert_ids=[a], window_start=start, created_at=now,
                             next_attempt_at=now, event=event) for a in alert_ids[:room]]
    rest = alert_ids[room:]
    if rest:
        digest = window.filter(digest=True).first()
        if digest is None:
            end = start + timedelta(seconds=settings.ALERT_DIGEST_WINDOW_S)
            AlertDelivery.objects.create(endpoint_id=endpoint_id, alert_ids=rest, digest=True, window_start=start,
                                         state=DeliveryState.COLLECTING, created_at=now, next_attempt_at=end,
                                         event=event)
        elif digest.state == DeliveryState.COLLECTING:
            digest.alert_ids = [*digest.alert_ids, *rest]
            digest.save(update_fields=["alert_ids"])
        else:  # the window's digest already left (clock skew between workers): send these on their own
            singles += [AlertDelivery(endpoint_id=endpoint_id, alert_ids=[a], window_start=start, created_at=now,
                                      next_attempt_at=now, event=event) for a in rest]
    return AlertDelivery.objects.bulk_create(singles)


def alert_deliveries_due(*, now: datetime | None = None) -> list[uuid.UUID]:
    """Digests whose window has ended become pending; returns every delivery due for an attempt now (pending
    and past its retry time, or stuck in sending past twice the timeout: its worker died)."""
    now = now or timezone.now()
    AlertDelivery.objects.filter(state=DeliveryState.COLLECTING, next_attempt_at__lte=now).update(
        state=DeliveryState.PENDING)
    stuck = now - timedelta(seconds=2 * settings.ALERT_WEBHOOK_TIMEOUT_S + 30)
    AlertDelivery.objects.filter(state=DeliveryState.SENDING, next_attempt_at__lte=stuck).update(
        state=DeliveryState.PENDING)
    return list(AlertDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
                .values_list("id", flat=True))


def backoff_s(attempt: int) -> int:
    """Delay after the ``attempt``-th failed attempt: base, 2 x base, 4 x base, ..."""
    return settings.ALERT_DELIVERY_BACKOFF_S * 2 ** (attempt - 1)


def alert_delivery_attempt(*, delivery_id: uuid.UUID, now: datetime | None = None) -> int | None:
    """One attempt (a duplicate call while another runs, or after it was delivered, does nothing). Returns the
    seconds before the next attempt, or None (delivered, given up, not due)."""
    now = now or timezone.now()
    claimed = AlertDelivery.objects.filter(id=delivery_id, state=DeliveryState.PENDING).update(
        state=DeliveryState.SENDING, next_attempt_at=now)
    if not claimed:
        return None
    delivery = AlertDelivery.objects.select_related("endpoint").get(id=delivery_id)
    number = delivery.attempts + 1
    started = time.monotonic()
    status_code, error = _send(delivery, now)
    ok = not error
    AlertDeliveryAttempt.objects.create(delivery=delivery, number=number, at=now, ok=ok, status_code=status_code,
                                        error=error[:300], duration_ms=int((time.monotonic() - started) * 1000))
    delivery.attempts = number
    delay: int | None = None
    if ok:
        delivery.state, delivery.delivered_at, delivery.last_error = DeliveryState.DELIVERED, timezone.now(), ""
    elif number >= settings.ALERT_DELIVERY_MAX_ATTEMPTS:
        delivery.state, delivery.last_error = DeliveryState.FAILED, error[:300]
        logger.warning("alert delivery %s to %s failed %d times, giving up: %s", delivery.id,
                       delivery.endpoint.name, number, error)
    else:
        delay = backoff_s(number)
        delivery.state, delivery.last_error = DeliveryState.PENDING, error[:300]
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save(update_fields=["attempts", "state", "delivered_at", "last_error", "next_attempt_at"])
    return delay


def alert_endpoint_test(*, endpoint_id: uuid.UUID) -> AlertDelivery:
    """A test message (no alert) to one endpoint, attempted at once; a failure is retried like any delivery."""
    now = timezone.now()
    delivery = AlertDelivery.objects.create(endpoint_id=endpoint_id, alert_ids=[], window_start=window_start(now),
                                            created_at=now, next_attempt_at=now)
    delay = alert_delivery_attempt(delivery_id=delivery.id, now=now)
    if delay is not None:
        from fleet import tasks  # fleet.tasks imports the services

        transaction.on_commit(lambda: tasks.alert_delivery_send.apply_async((str(delivery.id),), countdown=delay))
    delivery.refresh_from_db()
    return delivery


def delivery_alerts(*, delivery: AlertDelivery) -> list[OpsAlert]:
    return _alerts_of(delivery)


def _alerts_of(delivery: AlertDelivery) -> list[OpsAlert]:
    return list(OpsAlert.objects.filter(id__in=delivery.alert_ids).select_related("vehicle", "city")
                .order_by("opened_at"))


def _send(delivery: AlertDelivery, now: datetime) -> tuple[int | None, str]:
    alerts = _alerts_of(delivery)
    endpoint = delivery.endpoint
    try:
        if endpoint.channel == AlertChannel.EMAIL:
            subject, text = email_message(alerts, digest=delivery.digest,
                                          resolved=delivery.event == AlertEvent.RESOLVED and bool(alerts))
            send_mail(subject, text, None, endpoint.recipients, fail_silently=False)
            return None, ""
        body = json.dumps(webhook_body(delivery, alerts), separators=(",", ":"), sort_keys=True).encode()
        return _post(endpoint, body, int(now.timestamp()))
    except Exception as exc:  # any failure is an attempt that failed: recorded, retried with backoff
        return None, f"{type(exc).__name__}: {exc}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`` (a receiver recomputes it, docs/fleet.md)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _post(endpoint: AlertEndpoint, body: bytes, timestamp: int) -> tuple[int | None, str]:
    headers = {"Content-Type": "application/json", "User-Agent": "Freewheel-Alerts/1",
               TIMESTAMP_HEADER: str(timestamp)}
    if endpoint.secret:
        headers[SIGNATURE_HEADER] = signature(endpoint.secret, timestamp, body)
    try:  # again at every attempt: the host's addresses may have changed since the endpoint was saved
        target = webhook_target.check(endpoint.url)
    except webhook_target.TargetRefused as exc:
        return None, f"Refused: {exc}"
    status = webhook_target.post(target, body, headers, timeout=settings.ALERT_WEBHOOK_TIMEOUT_S)
    if 200 <= status < 300:
        return status, ""
    if 300 <= status < 400:
        return status, f"HTTP {status}: redirects are not followed"
    return status, f"HTTP {status}"


def _alert_json(alert: OpsAlert) -> dict[str, Any]:
    return {"id": str(alert.id), "kind": alert.kind, "severity": alert.severity, "message": alert.message,
            "vehicle": {"id": str(alert.vehicle_id), "code": alert.vehicle.code},
            "city": {"id": str(alert.city_id), "slug": alert.city.slug}, "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "resolved_by_system": alert.resolved_by_system, "resolution": alert.resolution, "data": alert.data}


def _line(alert: OpsAlert) -> str:
    return (f"{SEVERITY_ICON.get(alert.severity, '')} *{alert.get_kind_display()}* {alert.vehicle.code} "
            f"({alert.city.slug}): {alert.message}")


def _resolved_line(alert: OpsAlert) -> str:
    who = "by the system" if alert.resolved_by_system else "by staff"
    why = f": {alert.resolution}" if alert.resolution else ""
    return f":white_check_mark: *{alert.get_kind_display()}* {alert.vehicle.code} ({alert.city.slug}) resolved {who}{why}"


EVENTS: dict[tuple[str, bool], str] = {(AlertEvent.OPENED, False): "ops_alert.opened", (AlertEvent.OPENED, True): "ops_alert.digest",
          (AlertEvent.RESOLVED, False): "ops_alert.resolved", (AlertEvent.RESOLVED, True): "ops_alert.resolved_digest"}


def webhook_body(delivery: AlertDelivery, alerts: list[OpsAlert]) -> dict[str, Any]:
    """Slack-compatible (``text`` + ``blocks``) and a stable JSON part (``event``, ``alerts``, ...) for programs."""
    resolved = delivery.event == AlertEvent.RESOLVED
    line = _resolved_line if resolved else _line
    if delivery.digest:
        counts: dict[str, int] = defaultdict(int)
        for alert in alerts:
            counts[alert.get_kind_display()] += 1
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        what = "alerts resolved" if resolved else "more alerts"
        text = f"Freewheel: {len(alerts)} {what} in {settings.ALERT_DIGEST_WINDOW_S} s ({summary})"
        sample = "\n".join(line(a) for a in alerts[:10]) + (f"\n... and {len(alerts) - 10} more"
                                                             if len(alerts) > 10 else "")
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                  {"type": "section", "text": {"type": "mrkdwn", "text": sample or "-"}}]
    else:
        if not alerts:
            text = f"Freewheel test message: endpoint {delivery.endpoint.name} receives ops alerts"
        else:
            text = f"Freewheel {'resolved' if resolved else 'alert'}: {line(alerts[0])}"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    event = EVENTS[(delivery.event, delivery.digest)] if alerts or delivery.digest else "test"
    return {"text": text, "blocks": blocks, "event": event,
            "delivery_id": str(delivery.id), "window_start": delivery.window_start.isoformat(),
            "alerts": [_alert_json(a) for a in alerts]}


def email_message(alerts: list[OpsAlert], *, digest: bool, resolved: bool = False) -> tuple[str, str]:
    if resolved:
        lines = [f"[resolved] {a.get_kind_display()} - {a.vehicle.code} ({a.city.name}), "
                 f"{a.resolved_at:%Y-%m-%d %H:%M} UTC: {a.resolution or 'resolved'}"
                 f" ({'system' if a.resolved_by_system else 'staff'})" for a in alerts]
        if digest:
            return (f"Freewheel: {len(alerts)} alerts resolved in {settings.ALERT_DIGEST_WINDOW_S} s",
                    "Alerts resolved in the last window:\n\n" + "\n".join(lines))
        return f"Freewheel resolved: {alerts[0].get_kind_display()} {alerts[0].vehicle.code}", "\n".join(lines)
    lines = [f"[{a.severity}] {a.get_kind_display()} - {a.vehicle.code} ({a.city.name}), "
             f"{a.opened_at:%Y-%m-%d %H:%M} UTC: {a.message}" for a in alerts]
    if digest:
        return (f"Freewheel: {len(alerts)} alerts in {settings.ALERT_DIGEST_WINDOW_S} s",
                "Alerts of the last window (the admin lists them under Ops alerts):\n\n" + "\n".join(lines))
    if not alerts:
        return "Freewheel test message", "This address is on an alert endpoint: ops alerts will arrive here."
    return f"Freewheel alert: {alerts[0].get_kind_display()} {alerts[0].vehicle.code}", "\n".join(lines)
