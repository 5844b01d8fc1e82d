"""The FCM HTTP v1 backend against a local stand-in server (tests/accounts/fcm_standin.py): the real OAuth2 token
exchange and HTTP calls, no mocked library. Delivery, pruning of invalid tokens, retries of passing failures."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.checks import run_checks
from django.utils import timezone

from accounts import tasks
from accounts.models import Device, PushDelivery, PushDeliveryState
from accounts.services import notify, push_deliveries
from core import checks
from tests.accounts.push_fixtures import register

pytestmark = pytest.mark.django_db


def _notify(rider: Any, capture: Any, kind: str = "ride_auto_ended") -> Any:
    with capture(execute=True):
        return notify(user_id=rider.id, kind=kind, title="Your ride was ended automatically",
                      body="Your ride ended after 61 min.", data={"ride_id": "r-1"})


def test_a_notification_reaches_every_device_of_the_rider_through_fcm(
        rider, fcm, eager_celery, django_capture_on_commit_callbacks):
    phone = register(rider, "tok-android", platform="android")
    tablet = register(rider, "tok-ios", platform="ios")
    notification = _notify(rider, django_capture_on_commit_callbacks)
    assert sorted(m["token"] for m in [s["message"] for s in fcm.sent]) == ["tok-android", "tok-ios"]
    sent = fcm.messages_to("tok-android")[0]
    assert sent["notification"] == {"title": "Your ride was ended automatically",
                                    "body": "Your ride ended after 61 min."}
    assert sent["data"] == {"notification_id": str(notification.id), "kind": "ride_auto_ended",
                            "data": json.dumps({"ride_id": "r-1"}, separators=(",", ":"))}
    assert sent["android"]["priority"] == "NORMAL" and sent["apns"]["headers"]["apns-priority"] == "5"
    assert {s["project"] for s in fcm.sent} == {"freewheel-test"}  # the key's project_id
    # One signed token request; the bearer token is reused for the second message.
    assert len(fcm.token_requests) == 1
    assert set(PushDelivery.objects.values_list("state", flat=True)) == {PushDeliveryState.SENT}
    for device in (phone, tablet):
        device.refresh_from_db()
        assert device.last_push_at is not None


def test_an_urgent_alert_goes_at_high_priority(rider, fcm, eager_celery, django_capture_on_commit_callbacks):
    register(rider, "tok-1")
    _notify(rider, django_capture_on_commit_callbacks, kind="ride.zone_warning")
    sent = fcm.messages_to("tok-1")[0]
    assert sent["android"]["priority"] == "HIGH" and sent["apns"]["headers"]["apns-priority"] == "10"
    assert 0 < int(sent["android"]["ttl"].rstrip("s")) <= 15 * 60


@pytest.mark.parametrize(("status", "code", "violation"), [
    (404, "UNREGISTERED", None),
    (400, "INVALID_ARGUMENT", "message.token"),
    (403, "SENDER_ID_MISMATCH", None),
])
def test_a_token_the_provider_calls_invalid_is_pruned(rider, fcm, eager_celery, django_capture_on_commit_callbacks,
                                                      status, code, violation):
    stale = register(rider, "tok-stale")
    fresh = register(rider, "tok-fresh")
    fcm.fail("tok-stale", status, code, field_violation=violation)
    _notify(rider, django_capture_on_commit_callbacks)
    assert list(Device.objects.filter(user=rider).values_list("id", flat=True)) == [fresh.id]
    states = {d.device_id: d.state for d in PushDelivery.objects.all()}
    assert states == {None: PushDeliveryState.INVALID_TOKEN, fresh.id: PushDeliveryState.SENT}
    assert code in PushDelivery.objects.get(device=None).last_error
    assert not Device.objects.filter(id=stale.id).exists()


def test_an_invalid_message_is_not_a_bad_token_and_not_retried(rider, fcm, eager_celery,
                                                               django_capture_on_commit_callbacks):
    device = register(rider, "tok-1")
    fcm.fail("tok-1", 400, "INVALID_ARGUMENT", field_violation="message.data")
    _notify(rider, django_capture_on_commit_callbacks)
    delivery = PushDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.FAILED, 1)
    assert Device.objects.filter(id=device.id).exists() and len(fcm.sent) == 1


def test_a_push_goes_to_the_token_the_install_has_when_it_is_sent(rider, fcm):
    register(rider, "tok-old", install_id="install-1")
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    delivery = PushDelivery.objects.get(notification=notification)
    register(rider, "tok-new", install_id="install-1")  # the app got a new token before the push went out
    push_deliveries.push_delivery_attempt(delivery_id=delivery.id)
    assert [s["message"]["token"] for s in fcm.sent] == ["tok-new"]
    delivery.refresh_from_db()
    assert delivery.state == PushDeliveryState.SENT


def test_429_with_retry_after_is_retried_after_that_long_then_sent(rider, fcm, django_capture_on_commit_callbacks):
    register(rider, "tok-1")
    fcm.fail("tok-1", 429, "QUOTA_EXCEEDED", headers={"Retry-After": "120"})
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    delivery = PushDelivery.objects.get(notification=notification)
    now = timezone.now()
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id, now=now) == 120
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.PENDING, 1)
    assert delivery.next_attempt_at == now + timedelta(seconds=120) and "QUOTA_EXCEEDED" in delivery.last_error
    # Not due yet: neither a duplicate task nor the sweep sends it early.
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id, now=now + timedelta(seconds=60)) is None
    assert push_deliveries.push_deliveries_due(now=now + timedelta(seconds=60)) == []
    later = now + timedelta(seconds=121)
    assert push_deliveries.push_deliveries_due(now=later) == [delivery.id]
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id, now=later) is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.SENT, 2) and len(fcm.sent) == 2


def test_503_is_retried_by_the_celery_task_with_exponential_backoff(rider, fcm, eager_celery, settings,
                                                                    django_capture_on_commit_callbacks):
    register(rider, "tok-1")
    fcm.fail("tok-1", 503, "UNAVAILABLE")
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    delivery = PushDelivery.objects.get(notification=notification)
    tasks.push_delivery_send.apply(args=(str(delivery.id),))  # eager: the retry runs at once and finds it not due
    delivery.refresh_from_db()
    # The first attempt failed; the retry is due PUSH_RETRY_BACKOFF_S later (15 s), then 30 s, 60 s ...
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.PENDING, 1)
    assert push_deliveries.backoff_s(1) == 15 and push_deliveries.backoff_s(3) == 60
    assert 14 <= (delivery.next_attempt_at - timezone.now()).total_seconds() <= 15
    # With no backoff, Celery's own retry sends it again at once, and the second attempt goes through.
    settings.PUSH_RETRY_BACKOFF_S = 0
    fcm.fail("tok-1", 503, "UNAVAILABLE")
    second = notify(user_id=rider.id, kind="ride_auto_ended", title="t2")
    with django_capture_on_commit_callbacks(execute=True):
        pass
    delivery = PushDelivery.objects.get(notification=second)
    tasks.push_delivery_send.apply(args=(str(delivery.id),))
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.SENT, 2)


def test_a_push_that_keeps_failing_is_given_up_after_the_last_attempt(rider, fcm, settings):
    settings.PUSH_MAX_ATTEMPTS = 2
    register(rider, "tok-1")
    fcm.fail("tok-1", 500, "INTERNAL")
    fcm.fail("tok-1", 503, "UNAVAILABLE")
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    delivery = PushDelivery.objects.get(notification=notification)
    now = timezone.now()
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id, now=now) == 15
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id, now=now + timedelta(seconds=15)) is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (PushDeliveryState.FAILED, 2) and "UNAVAILABLE" in delivery.last_error


def test_an_unreachable_provider_is_a_passing_failure(rider, fcm, settings):
    settings.FCM_ENDPOINT = "http://127.0.0.1:9"  # discard port: connection refused
    register(rider, "tok-1")
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    delivery = PushDelivery.objects.get(notification=notification)
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id) == 15
    delivery.refresh_from_db()
    assert delivery.state == PushDeliveryState.PENDING and "ConnectionError" in delivery.last_error


def test_a_retry_that_would_come_too_late_drops_the_push(rider, fcm):
    register(rider, "tok-1")
    fcm.fail("tok-1", 429, "QUOTA_EXCEEDED", headers={"Retry-After": "3600"})
    notification = notify(user_id=rider.id, kind="reservation_expired", title="t")  # stale after 30 min
    delivery = PushDelivery.objects.get(notification=notification)
    assert push_deliveries.push_delivery_attempt(delivery_id=delivery.id) is None
    delivery.refresh_from_db()
    assert delivery.state == PushDeliveryState.EXPIRED


def test_the_fcm_backend_refuses_to_start_without_its_key(settings, tmp_path):
    settings.PUSH_BACKEND = "accounts.fcm.FcmPushBackend"
    settings.FCM_CREDENTIALS_FILE = ""
    assert [(m.id, m.msg.split(" ")[0]) for m in run_checks(tags=[checks.TAG]) if m.id == "freewheel.E002"] == [
        ("freewheel.E002", "FCM_CREDENTIALS_FILE")]
    settings.FCM_CREDENTIALS_FILE = str(tmp_path / "missing.json")
    assert any("no readable service account" in m.msg for m in run_checks(tags=[checks.TAG]))
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"client_email": "a@b", "private_key": "x", "token_uri": "https://t"}))
    settings.FCM_CREDENTIALS_FILE = str(key)
    assert any(m.msg.startswith("FCM_PROJECT_ID is required") for m in run_checks(tags=[checks.TAG]))
    settings.FCM_PROJECT_ID = "p"
    assert [m for m in run_checks(tags=[checks.TAG]) if m.id == "freewheel.E002"] == []


def test_the_beat_sweep_sends_what_is_due_and_retries_a_send_whose_worker_died(rider, fcm, eager_celery):
    register(rider, "tok-1")
    notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")  # its task was never queued
    lost = PushDelivery.objects.get(notification=notification)
    stuck_notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t2")
    stuck = PushDelivery.objects.get(notification=stuck_notification)
    long_ago = timezone.now() - timedelta(minutes=5)
    PushDelivery.objects.filter(id=stuck.id).update(state=PushDeliveryState.SENDING, next_attempt_at=long_ago)
    assert tasks.push_deliveries_due() == 2
    assert set(PushDelivery.objects.values_list("state", flat=True)) == {PushDeliveryState.SENT}
    assert sorted(m["notification"]["title"] for m in [s["message"] for s in fcm.sent]) == ["t", "t2"]
    assert lost.id != stuck.id and tasks.push_deliveries_due() == 0


def test_finished_deliveries_are_forgotten_after_30_days_pending_ones_never(rider, locmem_push):
    register(rider, "tok-1")
    old = notify(user_id=rider.id, kind="ride_auto_ended", title="old")
    waiting = notify(user_id=rider.id, kind="ride_auto_ended", title="waiting")
    recent = notify(user_id=rider.id, kind="ride_auto_ended", title="recent")
    PushDelivery.objects.filter(notification__in=[old, recent]).update(state=PushDeliveryState.SENT)
    PushDelivery.objects.filter(notification__in=[old, waiting]).update(
        created_at=timezone.now() - timedelta(days=31))
    assert push_deliveries.push_deliveries_purge(batch=1) == 1
    assert sorted(PushDelivery.objects.values_list("notification__title", flat=True)) == ["recent", "waiting"]
    assert rider.notifications.count() == 3
