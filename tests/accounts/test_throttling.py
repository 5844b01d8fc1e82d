"""Auth endpoints are rate limited with DRF throttles whose counters live in Redis (the default cache)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from accounts import sms
from accounts.models import PhoneOtp, User
from tests.accounts.helpers import code, error

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(monkeypatch):  # type: ignore[no-untyped-def]
    def set_rates(**scopes: str) -> None:
        monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"otp_verify": "1000/min", **scopes})

    return set_rates


def test_the_counters_are_in_redis(api, rider):
    assert isinstance(caches["default"], RedisCache)
    api.post("/api/v1/auth/token", {"email": rider.email, "password": "wrong-password"})
    assert len(cache.get("throttle_auth_127.0.0.1")) == 1


def test_login_is_limited_per_client_with_retry_after(api, rider, rates):
    rates(auth="3/min", otp="3/min")
    payload = {"email": rider.email, "password": "wrong-password"}
    assert [api.post("/api/v1/auth/token", payload).status_code for _ in range(3)] == [401] * 3
    r = api.post("/api/v1/auth/token", payload)
    assert code(r) == (429, "throttled")
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert error(r)["details"]["retry_after_s"] == int(r.headers["Retry-After"])
    other_client = api.post("/api/v1/auth/token", payload, REMOTE_ADDR="10.0.0.9")
    assert code(other_client) == (401, "invalid_credentials")


def test_the_default_auth_rate_applies(api, rider):
    """settings: THROTTLE_AUTH defaults to 20/min."""
    payload = {"email": rider.email, "password": "wrong-password"}
    statuses = [api.post("/api/v1/auth/token", payload).status_code for _ in range(21)]
    assert statuses == [401] * 20 + [429]


@pytest.mark.parametrize(
    "url", ["/api/v1/auth/register", "/api/v1/auth/token/refresh", "/api/v1/auth/logout", "/api/v1/auth/password-reset"]
)
def test_every_anonymous_auth_endpoint_is_throttled(api, rates, url):
    rates(auth="1/min", otp="1/min")
    api.post(url, {})
    assert code(api.post(url, {})) == (429, "throttled")


def test_password_change_is_throttled_per_user(api, rider, other_rider, rates):
    rates(auth="1/min", otp="1/min")
    api.as_(rider).post("/api/v1/me/password", {"old_password": "x", "new_password": "y"})
    assert code(api.as_(rider).post("/api/v1/me/password", {})) == (429, "throttled")
    assert code(api.as_(other_rider).post("/api/v1/me/password", {})) == (400, "validation_error")


def test_otp_start_is_limited_per_phone_across_clients(api, rates, settings, django_capture_on_commit_callbacks):
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    sms.outbox.clear()
    rates(auth="100/min", otp="2/min")
    phone = "+4915112345678"
    with django_capture_on_commit_callbacks(execute=True):
        for ip in ("10.0.0.1", "10.0.0.2"):
            assert api.post("/api/v1/auth/phone/start", {"phone": phone}, REMOTE_ADDR=ip).status_code == 202
        r = api.post("/api/v1/auth/phone/start", {"phone": "+49 151 12345678"}, REMOTE_ADDR="10.0.0.3")
    assert code(r) == (429, "throttled")
    assert len(sms.outbox) == 2
    other_phone = api.post("/api/v1/auth/phone/start", {"phone": "+33612345678"}, REMOTE_ADDR="10.0.0.4")
    assert other_phone.status_code == 202


def test_otp_verify_is_limited_per_client(api, rates):
    rates(auth="100/min", otp="100/min", otp_verify="2/min")
    for phone in ("+4915112345678", "+33612345678"):
        assert code(api.post("/api/v1/auth/phone/verify", {"phone": phone, "code": "123456"})) == (422, "otp_invalid")
    r = api.post("/api/v1/auth/phone/verify", {"phone": "+447911123456", "code": "123456"})
    assert code(r) == (429, "throttled")


# --- The client IP of the per-IP throttles (core.clientip, TRUSTED_PROXY_COUNT) -------------------------------


def test_a_rotating_x_forwarded_for_does_not_escape_the_login_limit_without_a_proxy(api, rider):
    """TRUSTED_PROXY_COUNT defaults to 0: the socket address is the client and the header is ignored."""
    payload = {"email": rider.email, "password": "wrong-password"}
    statuses = [
        api.post("/api/v1/auth/token", payload, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(21)
    ]
    assert statuses == [401] * 20 + [429]


def test_behind_one_proxy_the_right_most_entry_is_the_client(api, rider, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    payload = {"email": rider.email, "password": "wrong-password"}
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    # The proxy appends the address it saw; whatever the client put in front of it changes nothing.
    statuses = [
        api.post("/api/v1/auth/token", payload, HTTP_X_FORWARDED_FOR=f"10.9.{n}.1, 203.0.113.7", **proxy).status_code
        for n in range(21)
    ]
    assert statuses == [401] * 20 + [429]
    other_client = api.post("/api/v1/auth/token", payload, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    assert code(other_client) == (401, "invalid_credentials")


def test_sms_codes_for_many_numbers_from_one_client_are_limited_despite_a_spoofed_header(api, settings):
    """SMS pumping: one client asking codes for 7 numbers gets THROTTLE_OTP (5/min) of them."""
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    statuses = [
        api.post("/api/v1/auth/phone/start", {"phone": f"+4915112345{n:03d}"},
                 HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(7)
    ]
    assert statuses == [202] * 5 + [429] * 2


# --- Sending a code and guessing one have separate budgets (a stranger cannot lock the owner out) -------------

OWNER_IP, STRANGER_IP, PHONE = "192.0.2.10", "198.51.100.66", "+4915112345678"


def _owner_start(api, django_capture_on_commit_callbacks) -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post("/api/v1/auth/phone/start", {"phone": PHONE}, REMOTE_ADDR=OWNER_IP)
    assert r.status_code == 202
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].body).group(1)  # type: ignore[union-attr]


def _wrong(right: str) -> str:
    return f"{(int(right) + 1) % 10**6:06d}"


def _verify(api, code_: str, ip: str):  # type: ignore[no-untyped-def]
    return api.post("/api/v1/auth/phone/verify", {"phone": PHONE, "code": code_}, REMOTE_ADDR=ip)


@pytest.fixture
def locmem_sms(settings):  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    sms.outbox.clear()


def test_a_strangers_wrong_guesses_do_not_block_the_owners_code(api, locmem_sms, django_capture_on_commit_callbacks):
    """Default rates. Before: sending and guessing shared 5/min per number, so after 4 wrong guesses the right
    code got 429."""
    right = _owner_start(api, django_capture_on_commit_callbacks)
    for _ in range(4):
        assert code(_verify(api, _wrong(right), STRANGER_IP)) == (422, "otp_invalid")
    r = _verify(api, right, OWNER_IP)
    assert r.status_code == 200, r.json()
    assert User.objects.filter(phone=PHONE, phone_verified_at__isnull=False).exists()


def test_after_a_stranger_burns_the_code_the_owner_gets_a_new_one_and_signs_in(
    api, locmem_sms, django_capture_on_commit_callbacks
):
    old = _owner_start(api, django_capture_on_commit_callbacks)
    guesses = [code(_verify(api, _wrong(old), STRANGER_IP))[1] for _ in range(PhoneOtp.MAX_ATTEMPTS)]
    assert guesses == ["otp_invalid"] * (PhoneOtp.MAX_ATTEMPTS - 1) + ["otp_attempts_exceeded"]  # the code dies
    assert code(_verify(api, old, OWNER_IP)) == (422, "otp_attempts_exceeded")
    new = _owner_start(api, django_capture_on_commit_callbacks)  # was 429: the guesses had spent the budget
    r = _verify(api, new, OWNER_IP)
    assert r.status_code == 200, r.json()
    assert r.json()["user"]["phone"] == PHONE


def test_guessing_has_its_own_per_client_budget(api, locmem_sms, django_capture_on_commit_callbacks):
    """THROTTLE_OTP_VERIFY (10/min) per client, whatever the number; sends keep THROTTLE_OTP."""
    statuses = [
        api.post("/api/v1/auth/phone/verify", {"phone": f"+4915112345{n:03d}", "code": "123456"},
                 REMOTE_ADDR=STRANGER_IP).status_code
        for n in range(11)
    ]
    assert statuses == [422] * 10 + [429]
    _owner_start(api, django_capture_on_commit_callbacks)  # the sending budget is untouched
