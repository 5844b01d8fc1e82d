"""Live pushes of the ride's state and commands, and rider notifications (auto-end, force-end, reservation expiry).

The push edge (``core.push._send``, the Redis publish) is recorded; everything before it is real, including the
after-commit timing: a rolled back change pushes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts import push
from accounts.models import Notification
from rides import services
from rides.models import OPEN_STATES, Reservation, Ride
from tests.rides.conftest import START_URL, ack, started

pytestmark = pytest.mark.django_db
RES_URL = "/api/v1/reservations"


@pytest.fixture
def pushes(monkeypatch: Any, settings: Any) -> list[tuple[str, dict[str, Any]]]:
    from core import push as live_push

    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(live_push, "_send", lambda group, message: sent.append((group, message)))
    settings.PUSH_BACKEND = "accounts.push.LocmemPushBackend"
    push.outbox.clear()
    return sent


def _events(sent: list[tuple[str, dict[str, Any]]], group: str) -> list[tuple[str, dict[str, Any]]]:
    return [(m["event"], m["payload"]) for g, m in sent if g == group]


def test_every_state_change_and_command_outcome_is_pushed_to_the_ride_group(
        api, card_rider, vehicle, pushes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    ride = Ride.objects.get(id=r.json()["id"])
    group = f"ride.{ride.id}"
    assert [(e, p["state"]) for e, p in _events(pushes, group)] == [("ride.updated", "unlocking")]
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    client = api.as_(card_rider)
    for action in ("pause", "resume"):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(f"/api/v1/rides/{ride.id}/{action}").status_code == 200
    ride.refresh_from_db()
    ack(ride.unlock_command_id, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/rides/{ride.id}/end").status_code == 202
    ride.refresh_from_db()
    ack(ride.lock_command_id, django_capture_on_commit_callbacks)
    events = _events(pushes, group)
    names = [e for e, _ in events]
    assert names == ["ride.updated", "ride.command", "ride.updated", "ride.updated", "ride.updated",
                     "ride.command", "ride.updated", "ride.command", "ride.updated", "ride.ended"]
    states = [p["state"] for e, p in events if e == "ride.updated"]
    assert states == ["unlocking", "active", "paused", "active", "locking", "ended"]
    assert events[2][1]["paused"] is False and events[3][1]["paused"] is True and events[3][1]["pause_count"] == 1
    commands = [p for e, p in events if e == "ride.command"]
    assert commands == [{"kind": "unlock", "outcome": "acked"}, {"kind": "unlock", "outcome": "acked"},
                        {"kind": "lock", "outcome": "acked"}]
    ride.refresh_from_db()
    assert events[-1][1] == {"total": str(ride.fare_total), "currency": "EUR", "duration_s": ride.duration_s,
                             "distance_m": ride.distance_m, "end_reason": "rider"}


def test_a_refused_unlock_is_pushed_as_failed_and_a_refused_start_pushes_nothing(
        api, card_rider, vehicle, pushes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ride_id = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json").json()["id"]
    ack(Ride.objects.get(id=ride_id).unlock_command_id, django_capture_on_commit_callbacks, ok=False)
    events = _events(pushes, f"ride.{ride_id}")
    assert events[1] == ("ride.command", {"kind": "unlock", "outcome": "failed"})
    assert events[2][1]["state"] == "cancelled" and events[2][1]["cancel_reason"] == "unlock_failed"
    pushes.clear()
    Reservation.objects.all().delete()
    from fleet.models import Vehicle

    Vehicle.objects.filter(id=vehicle.id).update(battery_pct=5)
    with django_capture_on_commit_callbacks(execute=True):
        r = api.as_(card_rider).post(START_URL, {"code": vehicle.code}, format="json")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "battery_too_low") and pushes == []
    assert not Ride.objects.filter(rider=card_rider, state__in=OPEN_STATES).exists()


def test_notifications_inbox_read_and_live_and_mobile_push(api, rider, other_rider, pushes,
                                                         django_capture_on_commit_callbacks):
    from accounts import services as account_services
    from accounts.services import devices, push_deliveries

    devices.device_register(user=rider, install_id="phone", provider="fcm", platform="ios", token="tok-1")
    with django_capture_on_commit_callbacks(execute=True):
        first = account_services.notify(user_id=rider.id, kind="zone_warning", title="Slow zone", body="15 km/h",
                                        data={"zone_id": "z1"})
        second = account_services.notify(user_id=rider.id, kind="ride_auto_ended", title="Ride ended")
    assert [g for g, _ in pushes] == [f"user.{rider.id}", f"user.{rider.id}"]
    assert pushes[0][1]["event"] == "notification" and pushes[0][1]["payload"]["data"] == {"zone_id": "z1"}
    for delivery_id in push_deliveries.push_deliveries_due():  # what the tasks queued after commit do
        push_deliveries.push_delivery_attempt(delivery_id=delivery_id)
    assert sorted((m.notification_id, m.token) for m in push.outbox) == sorted([(first.id, "tok-1"),
                                                                               (second.id, "tok-1")])
    body = api.as_(rider).get("/api/v1/me/notifications?page_size=1").json()
    assert [n["id"] for n in body["results"]] == [str(second.id)] and body["next"]
    assert [n["id"] for n in api.get(body["next"]).json()["results"]] == [str(first.id)]
    r = api.post(f"/api/v1/me/notifications/{first.id}/read")
    assert r.status_code == 200 and r.json()["read_at"] is not None
    read_at = r.json()["read_at"]
    assert api.post(f"/api/v1/me/notifications/{first.id}/read").json()["read_at"] == read_at  # first time counts
    r = api.as_(other_rider).post(f"/api/v1/me/notifications/{second.id}/read")
    assert (r.status_code, r.json()["error"]["code"]) == (404, "notification_not_found")
    assert api.get("/api/v1/me/notifications").json()["results"] == []
    assert Notification.objects.get(id=second.id).read_at is None


def test_a_rolled_back_notification_is_neither_pushed_nor_stored(rider, pushes, django_capture_on_commit_callbacks):
    from django.db import transaction

    from accounts import services as account_services

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        account_services.notify(user_id=rider.id, kind="x", title="never")
        raise RuntimeError
    assert pushes == [] and push.outbox == [] and not Notification.objects.exists()


def test_auto_end_and_force_end_notify_the_rider(api, card_rider, vehicle, staff_user, city, scooter, pushes,
                                                django_capture_on_commit_callbacks):
    from tests.fleet.factories import VehicleFactory

    ride = started(api, card_rider, vehicle.code, django_capture_on_commit_callbacks)
    Ride.objects.filter(id=ride.id).update(created_at=timezone.now() - dt.timedelta(hours=13))
    assert services.rides_auto_end() == 1
    note = Notification.objects.get(user=card_rider)
    assert (note.kind, note.data["ride_id"], note.data["end_reason"]) == ("ride_auto_ended", str(ride.id),
                                                                        "auto_max_duration")
    second = VehicleFactory.create(city=city, vehicle_type=scooter, code="FW00002")
    ride = started(api, card_rider, second.code, django_capture_on_commit_callbacks)
    services.ride_force_end(ride_id=ride.id, actor=staff_user, reason="lost phone")
    note = Notification.objects.filter(user=card_rider).latest("created_at")
    assert (note.kind, note.data["ride_id"], note.data["state"]) == ("ride_force_ended", str(ride.id), "ended")
    assert note.title == "Your ride was ended by our team"


def test_a_german_rider_is_told_in_german(api, card_rider, vehicle, pushes):
    card_rider.language = "de"
    card_rider.save(update_fields=["language"])
    r = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json")
    Reservation.objects.filter(id=r.json()["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.reservations_expire() == 1
    note = Notification.objects.get(user=card_rider)
    assert note.title == "Deine Reservierung ist abgelaufen"
    assert note.body.startswith(f"Fahrzeug {vehicle.code} ist wieder frei.")


def test_reservation_expiry_notifies_the_rider(api, card_rider, vehicle, pushes):
    r = api.as_(card_rider).post(RES_URL, {"code": vehicle.code}, format="json")
    Reservation.objects.filter(id=r.json()["id"]).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.reservations_expire() == 1
    note = Notification.objects.get(user=card_rider)
    assert (note.kind, note.data["reservation_id"], note.data["vehicle_code"]) == (
        "reservation_expired", r.json()["id"], vehicle.code)


def test_support_sees_notifications_read_only_in_the_admin(client, staff_user, rider):
    from accounts import services as account_services

    account_services.notify(user_id=rider.id, kind="ride_auto_ended", title="Your ride was ended automatically")
    client.force_login(staff_user)
    page = client.get("/admin/accounts/notification/")
    assert page.status_code == 200 and "Your ride was ended automatically" in page.content.decode()
    assert client.get("/admin/accounts/notification/add/").status_code == 403
