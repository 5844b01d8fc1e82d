"""Alert delivery: routing (city, severity, kinds), HMAC signature, retries with exponential backoff and recorded
attempts, the storm digest, email. Webhooks go to a real HTTP server in a thread on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail

from fleet import services
from fleet.models import AlertDelivery, AlertDeliveryAttempt, AlertEndpoint, DeliveryState, OpsAlert
from fleet.services import alerting
from tests.fleet.factories import CityFactory, VehicleFactory

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-tests"


class Receiver:
    """A webhook receiver: records each request; answers with the next status of ``statuses`` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.ALERT_DIGEST_WINDOW_S = 60
    settings.ALERT_IMMEDIATE_PER_WINDOW = 1
    settings.ALERT_DELIVERY_BACKOFF_S = 10
    settings.ALERT_DELIVERY_MAX_ATTEMPTS = 4
    settings.ALERT_WEBHOOK_TIMEOUT_S = 5
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on 127.0.0.1 (test_webhook_target: refused without)


T0 = datetime(2026, 12, 7, 12, 0, 5, tzinfo=UTC)  # 5 s into a 60 s window


def open_alert(vehicle: Any, kind: str = "tamper", severity: str = "critical") -> OpsAlert:
    """Opened just before T0, the time the tests dispatch at."""
    alert = services.ops_alert_open(vehicle_id=vehicle.id, kind=kind, severity=severity, message=f"{kind} test")
    OpsAlert.objects.filter(id=alert.id).update(opened_at=T0 - timedelta(seconds=2))
    alert.refresh_from_db()
    return alert


def send_all(deliveries: list[AlertDelivery], now: datetime = T0) -> list[int | None]:
    return [alerting.alert_delivery_attempt(delivery_id=d.id, now=now) for d in deliveries]


def test_an_alert_goes_to_the_matching_webhook_signed_and_slack_compatible(receiver: Receiver) -> None:
    berlin, paris = CityFactory.create(slug="berlin"), CityFactory.create(slug="paris")
    hook = AlertEndpoint.objects.create(name="Berlin ops", url=receiver.url, secret=SECRET, city=berlin,
                                        min_severity="warning")
    AlertEndpoint.objects.create(name="Paris ops", url=receiver.url, city=paris)  # other city
    AlertEndpoint.objects.create(name="Critical only", url=receiver.url, min_severity="critical")
    AlertEndpoint.objects.create(name="Comms only", url=receiver.url, kinds=["comms_lost"])
    AlertEndpoint.objects.create(name="Off", url=receiver.url, active=False)
    vehicle = VehicleFactory.create(city=berlin, code="BER001")
    alert = open_alert(vehicle, "tipped_over", "warning")

    deliveries = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0)
    assert [d.endpoint_id for d in deliveries] == [hook.id]
    assert send_all(deliveries) == [None]
    headers, body = receiver.requests[0]
    timestamp = headers["X-Freewheel-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Freewheel-Signature"] == f"t={timestamp},v1={expected}"
    assert int(timestamp) == int(T0.timestamp())
    payload = json.loads(body)
    assert "BER001" in payload["text"] and payload["blocks"][0]["type"] == "section"
    assert payload["event"] == "ops_alert.opened"
    assert payload["alerts"][0] | {"data": {}} == {
        "id": str(alert.id), "kind": "tipped_over", "severity": "warning", "message": "tipped_over test",
        "vehicle": {"id": str(vehicle.id), "code": "BER001"}, "city": {"id": str(berlin.id), "slug": "berlin"},
        "opened_at": alert.opened_at.isoformat(), "resolved_at": None, "resolved_by_system": False,
        "resolution": "", "data": {}}
    delivery = AlertDelivery.objects.get()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DELIVERED, 1)
    assert AlertDeliveryAttempt.objects.get().status_code == 200


def test_a_failing_receiver_is_retried_with_exponential_backoff_then_given_up(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Flaky", url=receiver.url, secret=SECRET)
    alert = open_alert(VehicleFactory.create())
    (delivery,) = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0)
    receiver.statuses = [500, 503, 502, 500]
    now, delays = T0, []
    for _ in range(4):
        delay = alerting.alert_delivery_attempt(delivery_id=delivery.id, now=now)
        delays.append(delay)
        delivery.refresh_from_db()
        if delay is not None:
            assert delivery.next_attempt_at == now + timedelta(seconds=delay)
            assert delivery.state == DeliveryState.PENDING
            now += timedelta(seconds=delay)
    assert delays == [10, 20, 40, None]  # the 4th attempt is the last (ALERT_DELIVERY_MAX_ATTEMPTS)
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.FAILED, 4, "HTTP 500")
    attempts = list(AlertDeliveryAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "ok"))
    assert attempts == [(1, 500, False), (2, 503, False), (3, 502, False), (4, 500, False)]
    assert len(receiver.requests) == 4
    assert alerting.alert_delivery_attempt(delivery_id=delivery.id, now=now) is None  # given up: no 5th
    assert len(receiver.requests) == 4


def test_a_retry_that_succeeds_delivers_and_a_duplicate_task_sends_nothing(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Flaky", url=receiver.url)
    (delivery,) = alerting.alerts_dispatch(alert_ids=[open_alert(VehicleFactory.create()).id], now=T0)
    receiver.statuses = [502]
    assert alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0) == 10
    assert alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0 + timedelta(seconds=10)) is None
    assert alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0 + timedelta(seconds=11)) is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, len(receiver.requests)) == (DeliveryState.DELIVERED, 2, 2)


def test_an_unreachable_receiver_is_an_attempt_that_failed() -> None:
    AlertEndpoint.objects.create(name="Down", url="http://127.0.0.1:9/hook")  # discard port: connection refused
    (delivery,) = alerting.alerts_dispatch(alert_ids=[open_alert(VehicleFactory.create()).id], now=T0)
    assert alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0) == 10
    attempt = AlertDeliveryAttempt.objects.get()
    assert attempt.status_code is None and "ConnectionRefusedError" in attempt.error


def test_a_storm_is_one_message_then_one_digest_per_endpoint_and_window(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Slack", url=receiver.url, secret=SECRET)
    vehicles = VehicleFactory.create_batch(500)
    alerts = services.ops_alerts_open(alerts=[
        services.AlertSpec(v.id, v.city_id, "comms_lost", "warning", f"{v.code} stopped reporting") for v in vehicles])
    # Five telemetry batches within the minute, 100 alerts each.
    immediate: list[AlertDelivery] = []
    for i in range(5):
        immediate += alerting.alerts_dispatch(alert_ids=[a.id for a in alerts[i * 100:(i + 1) * 100]],
                                              now=T0 + timedelta(seconds=10 * i))
    assert len(immediate) == 1  # ALERT_IMMEDIATE_PER_WINDOW
    send_all(immediate)
    digest = AlertDelivery.objects.get(digest=True)
    assert (digest.state, len(digest.alert_ids)) == (DeliveryState.COLLECTING, 499)
    assert alerting.alert_deliveries_due(now=T0 + timedelta(seconds=30)) == []  # the window has not ended
    due = alerting.alert_deliveries_due(now=datetime(2026, 12, 7, 12, 1, 0, tzinfo=UTC))
    assert due == [digest.id]
    send_all([digest], now=datetime(2026, 12, 7, 12, 1, 0, tzinfo=UTC))
    assert len(receiver.requests) == 2  # not 500
    body = receiver.bodies()[1]
    assert body["event"] == "ops_alert.digest" and len(body["alerts"]) == 499
    assert "499 more alerts in 60 s (499 Lost contact)" in body["text"]
    # The next window starts afresh: its first alert goes out on its own.
    late = open_alert(VehicleFactory.create(), "tamper")
    assert len(alerting.alerts_dispatch(alert_ids=[late.id], now=T0 + timedelta(seconds=60))) == 1


def test_a_resolved_alert_is_not_sent(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Slack", url=receiver.url)
    alert = open_alert(VehicleFactory.create())
    services.ops_alert_resolve(alert_id=alert.id)
    assert alerting.alerts_dispatch(alert_ids=[alert.id], now=T0) == []


def test_email_endpoint_sends_to_its_list() -> None:
    berlin = CityFactory.create(slug="berlin", name="Berlin")
    AlertEndpoint.objects.create(name="Night shift", channel="email", emails="a@ops.test, b@ops.test", city=berlin)
    alert = open_alert(VehicleFactory.create(city=berlin, code="BER007"))
    (delivery,) = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0)
    assert send_all([delivery]) == [None]
    (message,) = mail.outbox
    assert message.to == ["a@ops.test", "b@ops.test"]
    assert "BER007" in message.subject and "tamper test" in message.body


def test_opening_alerts_queues_one_dispatch_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    vehicles = VehicleFactory.create_batch(3)
    def dispatches(callbacks: list[Any]) -> int:  # the others are the three pushes to ops sockets
        return sum(c.__qualname__.startswith("ops_alerts_open") for c in callbacks)

    with django_capture_on_commit_callbacks() as callbacks:
        services.ops_alerts_open(alerts=[services.AlertSpec(v.id, v.city_id, "tamper") for v in vehicles])
    assert (len(callbacks), dispatches(callbacks)) == (4, 1)  # one task for the batch, not one per alert
    with django_capture_on_commit_callbacks() as callbacks:
        services.ops_alerts_open(alerts=[services.AlertSpec(v.id, v.city_id, "tamper") for v in vehicles])
    assert callbacks == []  # nothing new opened: nothing to send


def test_the_test_action_delivers_without_an_alert(receiver: Receiver) -> None:
    endpoint = AlertEndpoint.objects.create(name="Slack", url=receiver.url, secret=SECRET)
    delivery = alerting.alert_endpoint_test(endpoint_id=endpoint.id)
    assert delivery.state == DeliveryState.DELIVERED
    assert receiver.bodies()[0]["event"] == "test"


def test_the_celery_tasks_route_send_and_retry(receiver: Receiver) -> None:
    """The task wiring end to end (eager Celery: a retry runs at once instead of after its countdown)."""
    from config.celery import app as celery_app
    from fleet import tasks

    AlertEndpoint.objects.create(name="Slack", url=receiver.url)
    alert = open_alert(VehicleFactory.create())
    receiver.statuses = [500]
    celery_app.conf.task_always_eager = True
    try:
        assert tasks.alerts_dispatch.delay([str(alert.id)]).get() == 1
    finally:
        celery_app.conf.task_always_eager = False
    delivery = AlertDelivery.objects.get()
    assert (delivery.state, delivery.attempts, len(receiver.requests)) == (DeliveryState.DELIVERED, 2, 2)


# --- resolutions ----------------------------------------------------------------------------------------------------

def _deliver_all(now: datetime) -> None:
    for delivery_id in alerting.alert_deliveries_due(now=now):
        alerting.alert_delivery_attempt(delivery_id=delivery_id, now=now)


def test_a_resolved_alert_is_sent_to_the_endpoints_that_received_it_signed(receiver: Receiver,
                                                                          django_capture_on_commit_callbacks: Any,
                                                                          django_user_model: Any) -> None:
    city = CityFactory.create(slug="berlin")
    got_it = AlertEndpoint.objects.create(name="Berlin Slack", url=receiver.url, secret=SECRET, city=city)
    AlertEndpoint.objects.create(name="Opted out", url=receiver.url + "?out", send_resolved=False)
    other = Receiver()
    try:
        later = AlertEndpoint.objects.create(name="Added later", url=other.url, active=False)
        alert = open_alert(VehicleFactory.create(city=city, code="BER007"))
        for delivery in alerting.alerts_dispatch(alert_ids=[alert.id], now=T0):
            alerting.alert_delivery_attempt(delivery_id=delivery.id, now=T0)
        assert len(receiver.requests) == 2  # both active endpoints got the opening
        later.active = True  # never sent the opening: gets no resolution either
        later.save()
        staff = django_user_model.objects.create_user(email="ops@example.test", password="x", is_staff=True)
        with django_capture_on_commit_callbacks() as callbacks:
            services.ops_alert_resolve(alert_id=alert.id, actor=staff)
        assert sum(c.__qualname__.startswith("ops_alert_resolve") for c in callbacks) == 1  # one dispatch
        deliveries = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0 + timedelta(minutes=3),
                                              event="resolved")
        assert [(d.endpoint_id, d.event) for d in deliveries] == [(got_it.id, "resolved")]
        assert alerting.alerts_dispatch(alert_ids=[alert.id], now=T0 + timedelta(minutes=3),
                                        event="resolved") == []  # a redelivered task routes nothing twice
        alerting.alert_delivery_attempt(delivery_id=deliveries[0].id, now=T0 + timedelta(minutes=3))
        assert other.requests == []
    finally:
        other.close()
    headers, raw = receiver.requests[-1]
    timestamp = headers["X-Freewheel-Timestamp"]
    mac = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-Freewheel-Signature"] == f"t={timestamp},v1={mac}"
    body = json.loads(raw)
    assert body["event"] == "ops_alert.resolved"
    assert body["text"].startswith("Freewheel resolved: :white_check_mark: *Tamper* BER007 (berlin) resolved by staff")
    (sent,) = body["alerts"]
    assert (sent["id"], sent["resolved_by_system"], sent["resolution"]) == (str(alert.id), False, "resolved by staff")
    assert sent["resolved_at"] is not None


def test_a_storm_clearing_is_one_message_then_one_resolved_digest(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Slack", url=receiver.url, min_severity="info")
    vehicles = VehicleFactory.create_batch(30)
    alerts = [open_alert(v, kind="comms_lost", severity="warning") for v in vehicles]
    alerting.alerts_dispatch(alert_ids=[a.id for a in alerts], now=T0)
    _deliver_all(T0 + timedelta(seconds=60))  # the opening message and its digest
    assert [b["event"] for b in receiver.bodies()] == ["ops_alert.opened", "ops_alert.digest"]

    at = T0 + timedelta(minutes=5)
    resolved = services.ops_alerts_resolve_for(vehicle_ids=[v.id for v in vehicles], kind="comms_lost",
                                               reason="comms restored")
    immediate = alerting.alerts_dispatch(alert_ids=[a.id for a in resolved], now=at, event="resolved")
    assert len(immediate) == 1
    for delivery in immediate:
        alerting.alert_delivery_attempt(delivery_id=delivery.id, now=at)
    _deliver_all(at + timedelta(seconds=60))
    bodies = receiver.bodies()[2:]
    assert [b["event"] for b in bodies] == ["ops_alert.resolved", "ops_alert.resolved_digest"]
    assert "29 alerts resolved" in bodies[1]["text"] and len(bodies[1]["alerts"]) == 29
    assert bodies[0]["alerts"][0]["resolved_by_system"] is True
    assert "resolved by the system: comms restored" in bodies[0]["text"]


def test_resolutions_do_not_use_up_the_openings_budget(receiver: Receiver) -> None:
    AlertEndpoint.objects.create(name="Slack", url=receiver.url, min_severity="info")
    first = open_alert(VehicleFactory.create())
    alerting.alerts_dispatch(alert_ids=[first.id], now=T0 - timedelta(seconds=60))  # the window before
    services.ops_alert_resolve(alert_id=first.id)
    assert len(alerting.alerts_dispatch(alert_ids=[first.id], now=T0, event="resolved")) == 1
    second = open_alert(VehicleFactory.create())
    assert len(alerting.alerts_dispatch(alert_ids=[second.id], now=T0)) == 1  # not digested behind it


def test_no_resolution_for_an_opening_that_was_given_up_on_or_an_email_opt_out(receiver: Receiver) -> None:
    endpoint = AlertEndpoint.objects.create(name="Slack", url=receiver.url)
    email = AlertEndpoint.objects.create(name="Ops list", channel="email", url="", emails="ops@example.test")
    alert = open_alert(VehicleFactory.create())
    deliveries = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0)
    AlertDelivery.objects.filter(id__in=[d.id for d in deliveries], endpoint=endpoint).update(
        state=DeliveryState.FAILED)
    services.ops_alert_resolve(alert_id=alert.id)
    (resolved,) = alerting.alerts_dispatch(alert_ids=[alert.id], now=T0, event="resolved")
    assert resolved.endpoint_id == email.id
    alerting.alert_delivery_attempt(delivery_id=resolved.id, now=T0)
    assert mail.outbox[-1].subject == "Freewheel resolved: Tamper " + alert.vehicle.code
    assert "[resolved] Tamper" in mail.outbox[-1].body
    email.send_resolved = False
    email.save()
    AlertDelivery.objects.filter(event="resolved").delete()
    assert alerting.alerts_dispatch(alert_ids=[alert.id], now=T0, event="resolved") == []
