"""A rider's notification preferences: categories, quiet hours in their zone, the language of the texts."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import NotificationPreference, PushDelivery, PushDeliveryState
from accounts.services import notify, push_deliveries
from tests.accounts.push_fixtures import register

pytestmark = pytest.mark.django_db
URL = "/api/v1/me/notification-preferences"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def test_defaults_then_changes_then_a_required_category_stays_on(api, rider):
    client = api.as_(rider)
    assert client.get(URL).json() == {
        "push": {"ride_alerts": True, "account": True, "receipts": True, "reservations": True, "marketing": False},
        "always_on": ["ride_alerts", "account"], "quiet_hours": None, "language": None, "effective_language": "en",
        "time_zone": None, "effective_time_zone": "UTC"}
    r = client.patch(URL, {"push": {"receipts": False, "marketing": True},
                           "quiet_hours": {"start": "22:00", "end": "07:00"}, "language": "de",
                           "time_zone": "Europe/Berlin"})
    assert r.status_code == 200
    body = r.json()
    assert body["push"] == {"ride_alerts": True, "account": True, "receipts": False, "reservations": True,
                            "marketing": True}
    assert body["quiet_hours"] == {"start": "22:00", "end": "07:00"}
    assert (body["language"], body["effective_language"], body["time_zone"]) == ("de", "de", "Europe/Berlin")
    r = client.patch(URL, {"push": {"ride_alerts": False}})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "notification_category_required")
    assert client.patch(URL, {"quiet_hours": None, "language": None}).json()["quiet_hours"] is None
    rider.refresh_from_db()
    assert (rider.language, rider.time_zone) == ("", "Europe/Berlin")
    assert NotificationPreference.objects.get(user=rider).push_receipts is False


def test_bad_preferences_are_refused(api, rider):
    client = api.as_(rider)
    for body in ({"language": "fr"}, {"time_zone": "Berlin"}, {"quiet_hours": {"start": "22:00", "end": "22:00"}},
                 {"quiet_hours": {"start": "22:00"}}):
        r = client.patch(URL, body, format="json")
        assert (r.status_code, r.json()["error"]["code"]) == (400, "validation_error"), body
    assert not NotificationPreference.objects.exists()


def test_the_app_language_and_zone_apply_until_the_rider_chooses(api, rider):
    register(rider, locale="de-CH", time_zone="Europe/Zurich")
    body = api.as_(rider).get(URL).json()
    assert (body["language"], body["effective_language"]) == (None, "de")
    assert (body["time_zone"], body["effective_time_zone"]) == (None, "Europe/Zurich")


def _planned(rider: Any, kind: str) -> list[PushDelivery]:
    return list(notify(user_id=rider.id, kind=kind, title="t").push_deliveries.all())


def test_switched_off_categories_are_not_pushed_but_still_in_the_inbox(api, rider):
    register(rider)
    api.as_(rider).patch(URL, {"push": {"receipts": False}}, format="json")
    assert _planned(rider, "ride_receipt") == []
    assert _planned(rider, "promotion") == []  # marketing is opt-in
    assert len(_planned(rider, "reservation_expired")) == 1
    assert len(_planned(rider, "ride.zone_warning")) == 1
    assert len(_planned(rider, "ride_auto_ended")) == 1
    assert rider.notifications.count() == 5


def test_nothing_is_planned_for_a_rider_without_devices(rider):
    assert _planned(rider, "ride_auto_ended") == []


# --- quiet hours -------------------------------------------------------------------------------------------

def _pref(start: str, end: str) -> NotificationPreference:
    return NotificationPreference(quiet_hours_start=dt.time.fromisoformat(start), quiet_hours_end=dt.time.fromisoformat(end))


@pytest.mark.parametrize(("local", "start", "end", "until"), [
    ("2026-12-07 23:30", "22:00", "07:00", "2026-12-08 07:00"),  # over midnight, before it
    ("2026-12-08 03:00", "22:00", "07:00", "2026-12-08 07:00"),  # over midnight, after it
    ("2026-12-08 07:00", "22:00", "07:00", None),  # the end is not quiet any more
    ("2026-12-08 21:59", "22:00", "07:00", None),
    ("2026-12-08 13:30", "13:00", "15:00", "2026-12-08 15:00"),  # within one day
    ("2026-03-29 01:30", "23:00", "07:00", "2026-03-29 07:00"),  # the night the clocks go forward
])
def test_quiet_until(local, start, end, until):
    now = dt.datetime.fromisoformat(local).replace(tzinfo=BERLIN).astimezone(dt.UTC)
    found = push_deliveries.quiet_until(preference=_pref(start, end), time_zone="Europe/Berlin", now=now)
    assert found == (dt.datetime.fromisoformat(until).replace(tzinfo=BERLIN) if until else None)
    if found is not None:
        assert found.utcoffset() == (dt.timedelta(hours=2) if "03-29" in local else dt.timedelta(hours=1))


def _quiet_now(api: Any, rider: Any) -> dt.datetime:
    """Quiet hours around the present moment in Berlin, ending in two hours; returns their end."""
    local = timezone.now().astimezone(BERLIN)
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=2)).strftime("%H:%M")
    r = api.as_(rider).patch(URL, {"quiet_hours": {"start": start, "end": end}, "time_zone": "Europe/Berlin"},
                             format="json")
    assert r.status_code == 200
    end_at = (local + timedelta(hours=2)).replace(second=0, microsecond=0)
    return end_at


def test_in_quiet_hours_pushes_wait_for_their_end_urgent_ones_do_not(api, rider, locmem_push):
    register(rider, "tok-1")
    end_at = _quiet_now(api, rider)
    [receipt] = _planned(rider, "ride_receipt")
    [alert] = _planned(rider, "ride.zone_warning")
    assert receipt.next_attempt_at == end_at and receipt.state == PushDeliveryState.PENDING
    assert alert.next_attempt_at <= timezone.now()
    assert push_deliveries.push_delivery_attempt(delivery_id=receipt.id) is None  # not due: nothing sent
    assert push_deliveries.push_delivery_attempt(delivery_id=alert.id) is None
    assert [m.kind for m in locmem_push] == ["ride.zone_warning"]
    # The beat sweep finds it when the quiet hours end, and it goes out then.
    assert push_deliveries.push_deliveries_due() == []
    assert push_deliveries.push_deliveries_due(now=end_at) == [receipt.id]
    push_deliveries.push_delivery_attempt(delivery_id=receipt.id, now=end_at)
    assert [m.kind for m in locmem_push] == ["ride.zone_warning", "ride_receipt"]


def test_a_held_push_that_went_stale_is_dropped_and_stays_in_the_inbox(api, rider, locmem_push):
    register(rider, "tok-1")
    end_at = _quiet_now(api, rider)
    [lapse] = _planned(rider, "reservation_expired")  # a lapse is stale after 30 minutes
    push_deliveries.push_delivery_attempt(delivery_id=lapse.id, now=end_at)
    lapse.refresh_from_db()
    assert lapse.state == PushDeliveryState.EXPIRED and locmem_push == []
    assert rider.notifications.filter(kind="reservation_expired").exists()



def test_notifying_a_rider_with_devices_takes_a_fixed_number_of_queries(rider, django_assert_num_queries):
    for _ in range(3):
        register(rider)
    # the rider's language and zone, their devices, their preferences; savepoint, the notification, the deliveries
    with django_assert_num_queries(7):
        notification = notify(user_id=rider.id, kind="ride_auto_ended", title="t")
    assert notification.push_deliveries.count() == 3
