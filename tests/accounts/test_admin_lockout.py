"""Admin login lockout (django-axes): per trusted client IP and username, expiring after the cool-off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F

from tests.accounts.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
ATTACKER = "203.0.113.66"


@pytest.fixture
def staff():  # type: ignore[no-untyped-def]
    return UserFactory.create(is_staff=True, is_superuser=True, email="boss@example.com")


def _login(client, email: str, password: str, ip: str = ATTACKER, **extra: str):  # type: ignore[no-untyped-def]
    client.logout()
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def _lock_out(client, email: str = "boss@example.com", ip: str = ATTACKER) -> list[int]:  # type: ignore[no-untyped-def]
    from django.conf import settings

    return [_login(client, email, "wrong-password", ip).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]


def test_wrong_passwords_lock_the_login_with_a_clear_page(client, staff, settings):
    assert settings.AXES_FAILURE_LIMIT == 5  # ADMIN_LOGIN_FAILURE_LIMIT's default
    assert _lock_out(client) == [200] * 4 + [429]  # was 200 for ever: no throttle, no lockout
    page = _login(client, staff.email, "wrong-password")
    assert page.status_code == 429
    assert "Sign-in locked" in page.content.decode()
    assert "boss@example.com" in page.content.decode()


def test_the_right_password_is_refused_while_locked(client, staff):
    _lock_out(client)
    r = _login(client, staff.email, PASSWORD)
    assert r.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/", REMOTE_ADDR=ATTACKER).status_code == 302  # to the login page


def test_another_address_or_another_account_is_not_locked(client, staff):
    other = UserFactory.create(is_staff=True, email="ops@example.com")
    _lock_out(client)
    assert _login(client, staff.email, PASSWORD, ip="192.0.2.10").status_code == 302  # signed in
    assert _login(client, other.email, PASSWORD).status_code == 302


def test_changing_the_letter_case_of_the_email_does_not_reset_the_count(client, staff):
    for email in ("boss@example.com", "Boss@example.com", "BOSS@example.com", "boss@Example.com"):
        assert _login(client, email, "wrong-password").status_code == 200
    assert _login(client, "BoSS@example.COM", "wrong-password").status_code == 429


def test_a_forged_forwarded_header_does_not_escape_the_lockout(client, staff):
    """TRUSTED_PROXY_COUNT is 0: axes reads the client IP through core.clientip, as the throttles do."""
    _lock_out(client)
    r = _login(client, staff.email, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert r.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


def test_behind_a_proxy_the_lockout_is_per_forwarded_client(client, staff, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"HTTP_X_FORWARDED_FOR": f"6.6.6.6, {ATTACKER}"}
    assert [_login(client, staff.email, "wrong", "172.18.0.5", **proxy).status_code for _ in range(5)][-1] == 429
    assert _login(client, staff.email, PASSWORD, "172.18.0.5", HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 302


def test_the_lockout_expires_after_the_cool_off(client, staff, settings):
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME  # ADMIN_LOGIN_LOCKOUT_MINUTES's default
    _lock_out(client)
    assert _login(client, staff.email, PASSWORD).status_code == 429
    # The cool-off runs from the last failed attempt: move the attempts that far into the past.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _login(client, staff.email, PASSWORD).status_code == 302


def test_the_api_sign_in_is_not_watched_by_the_admin_lockout(client, api, staff):
    """The JWT sign-in keeps its DRF throttles (test_throttling.py); its failures are not admin attempts."""
    for _ in range(4):
        assert api.post("/api/v1/auth/token", {"email": staff.email, "password": "wrong"}).status_code == 401
    assert not AccessAttempt.objects.exists()
    _lock_out(client, ip="127.0.0.1")
    r = api.post("/api/v1/auth/token", {"email": staff.email, "password": PASSWORD})
    assert r.status_code == 200
