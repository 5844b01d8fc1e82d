"""POST auth/phone/start and auth/phone/verify: SMS one-time codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts import errors, sms
from accounts.models import PhoneOtp, User
from accounts.services import auth, users
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code, error

pytestmark = pytest.mark.django_db
START, VERIFY = "/api/v1/auth/phone/start", "/api/v1/auth/phone/verify"
ME_VERIFY = "/api/v1/me/phone/verify"
PHONE = "+4915112345678"


@pytest.fixture(autouse=True)
def _locmem_sms(settings, monkeypatch):  # type: ignore[no-untyped-def]
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    sms.outbox.clear()
    # Generous rates here; test_throttling.py checks the limits themselves.
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"auth": "1000/min", "otp": "1000/min", "otp_verify": "1000/min"})


def _start(api, django_capture_on_commit_callbacks, phone: str = PHONE) -> str:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(START, {"phone": phone})
    assert r.status_code == 202, r.json()
    match = re.search(r"\b(\d{6})\b", sms.outbox[-1].body)
    assert match and sms.outbox[-1].to == phone.replace(" ", "")
    return match.group(1)


def test_first_sign_in_creates_a_rider_without_email_or_password(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks, phone="+49 151 1234 5678")
    r = api.post(VERIFY, {"phone": PHONE, "code": the_code})
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["created"] is True
    assert (body["user"]["email"], body["user"]["phone"], body["user"]["phone_verified"]) == (
        None,
        PHONE,
        True,
    )
    user = User.objects.get(phone=PHONE)
    assert user.email.endswith("@accounts.freewheel.invalid") and not user.has_usable_password()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['tokens']['access']}")
    assert api.get("/api/v1/me").json()["id"] == str(user.pk)
    assert not PhoneOtp.objects.exists()


def test_next_sign_in_finds_the_account_that_proved_the_number(api, django_capture_on_commit_callbacks):
    rider = UserFactory.create(phone=PHONE, phone_verified_at=timezone.now())
    r = api.post(VERIFY, {"phone": PHONE, "code": _start(api, django_capture_on_commit_callbacks)})
    assert (r.json()["created"], r.json()["user"]["id"]) == (False, str(rider.pk))
    assert User.objects.count() == 1


def test_a_code_is_single_use(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks)
    assert api.post(VERIFY, {"phone": PHONE, "code": the_code}).status_code == 200
    assert code(api.post(VERIFY, {"phone": PHONE, "code": the_code})) == (422, "otp_invalid")


def test_the_code_is_stored_hashed_and_expires_in_five_minutes(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks)
    otp = PhoneOtp.objects.get(phone=PHONE)
    assert the_code not in otp.code_hash
    assert timedelta(minutes=4) < otp.expires_at - timezone.now() <= timedelta(minutes=5)


def test_wrong_code_counts_an_attempt_and_says_how_many_are_left(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks)
    wrong = f"{(int(the_code) + 1) % 1_000_000:06d}"
    r = api.post(VERIFY, {"phone": PHONE, "code": wrong})
    assert code(r) == (422, "otp_invalid")
    assert error(r)["details"] == {"attempts_left": 4}
    assert PhoneOtp.objects.get(phone=PHONE).attempts == 1


def test_five_wrong_codes_burn_the_code(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks)
    wrong = f"{(int(the_code) + 1) % 1_000_000:06d}"
    answers = [code(api.post(VERIFY, {"phone": PHONE, "code": wrong}))[1] for _ in range(5)]
    assert answers == ["otp_invalid"] * 4 + ["otp_attempts_exceeded"]
    assert code(api.post(VERIFY, {"phone": PHONE, "code": the_code})) == (422, "otp_attempts_exceeded")
    assert not User.objects.exists()
    fresh = _start(api, django_capture_on_commit_callbacks)  # a new code starts over
    assert api.post(VERIFY, {"phone": PHONE, "code": fresh}).status_code == 200


def test_expired_code_is_refused(api, django_capture_on_commit_callbacks):
    the_code = _start(api, django_capture_on_commit_callbacks)
    PhoneOtp.objects.filter(phone=PHONE).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert code(api.post(VERIFY, {"phone": PHONE, "code": the_code})) == (422, "otp_expired")
    assert not User.objects.exists()


def test_a_new_code_replaces_the_old_one(api, django_capture_on_commit_callbacks):
    first = _start(api, django_capture_on_commit_callbacks)
    second = _start(api, django_capture_on_commit_callbacks)
    if first != second:
        assert code(api.post(VERIFY, {"phone": PHONE, "code": first})) == (422, "otp_invalid")
    assert api.post(VERIFY, {"phone": PHONE, "code": second}).status_code == 200
    assert PhoneOtp.objects.count() == 0


def test_verify_without_a_started_code_is_otp_invalid(api):
    assert code(api.post(VERIFY, {"phone": PHONE, "code": "123456"})) == (422, "otp_invalid")


def test_blocked_account_is_refused_and_keeps_its_code(api, django_capture_on_commit_callbacks):
    rider = UserFactory.create(phone=PHONE, phone_verified_at=timezone.now())
    users.user_block(user=rider, reason="vandalism")
    r = api.post(VERIFY, {"phone": PHONE, "code": _start(api, django_capture_on_commit_callbacks)})
    assert code(r) == (403, "account_blocked")
    assert error(r)["details"] == {"reason": "vandalism"}


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        (START, {"phone": "015112345678"}, "phone"),
        (START, {"phone": "+1"}, "phone"),
        (START, {}, "phone"),
        (VERIFY, {"phone": PHONE, "code": "12345"}, "code"),
        (VERIFY, {"phone": PHONE, "code": "abcdef"}, "code"),
        (VERIFY, {"phone": "nope", "code": "123456"}, "phone"),
    ],
)
def test_malformed_input_is_400(api, url, payload, field):
    r = api.post(url, payload)
    assert code(r) == (400, "validation_error")
    assert field in error(r)["details"]["fields"]
    assert sms.outbox == []


def test_failed_attempts_are_committed_even_though_the_request_fails(django_capture_on_commit_callbacks, api):
    the_code = _start(api, django_capture_on_commit_callbacks)
    with pytest.raises(errors.OtpInvalid):
        auth.auth_phone_verify(phone=PHONE, code=f"{(int(the_code) + 1) % 1_000_000:06d}")
    assert PhoneOtp.objects.get(phone=PHONE).attempts == 1


def test_an_unproved_claim_on_the_number_does_not_sign_in_to_the_claimers_account(
    api, django_capture_on_commit_callbacks
):
    """Pre-hijacking: someone registers with a victim's number; the victim's SMS sign-in must not enter it."""
    claimer = UserFactory.create(phone=PHONE)  # registered with the number, never proved it
    r = api.post(VERIFY, {"phone": PHONE, "code": _start(api, django_capture_on_commit_callbacks)})
    assert r.status_code == 200
    assert r.json()["created"] is True and r.json()["user"]["id"] != str(claimer.pk)
    claimer.refresh_from_db()
    assert (claimer.phone, claimer.status) == ("", "active")
    assert User.objects.get(phone=PHONE).phone_verified_at is not None


def test_signed_in_account_proves_its_number_then_signs_in_by_phone(
    api, rider, django_capture_on_commit_callbacks
):
    the_code = _start(api, django_capture_on_commit_callbacks)
    r = api.as_(rider).post(ME_VERIFY, {"phone": PHONE, "code": the_code})
    assert r.status_code == 200, r.json()
    assert (r.json()["phone"], r.json()["phone_verified"]) == (PHONE, True)
    again = api.anonymous().post(
        VERIFY, {"phone": PHONE, "code": _start(api, django_capture_on_commit_callbacks)}
    )
    assert (again.json()["created"], again.json()["user"]["id"]) == (False, str(rider.pk))


def test_proving_a_number_takes_it_from_an_unproved_claim(api, rider, django_capture_on_commit_callbacks):
    claimer = UserFactory.create(phone=PHONE)
    r = api.as_(rider).post(
        ME_VERIFY, {"phone": PHONE, "code": _start(api, django_capture_on_commit_callbacks)}
    )
    assert r.status_code == 200
    claimer.refresh_from_db()
    assert claimer.phone == ""


def test_a_number_another_account_proved_is_409_and_the_code_stays_usable(
    api, rider, django_capture_on_commit_callbacks
):
    owner = UserFactory.create(phone=PHONE, phone_verified_at=timezone.now())
    the_code = _start(api, django_capture_on_commit_callbacks)
    assert code(api.as_(rider).post(ME_VERIFY, {"phone": PHONE, "code": the_code})) == (409, "phone_taken")
    assert PhoneOtp.objects.get(phone=PHONE).attempts == 0
    r = api.anonymous().post(VERIFY, {"phone": PHONE, "code": the_code})
    assert r.json()["user"]["id"] == str(owner.pk)


def test_me_phone_verify_counts_wrong_codes_and_needs_authentication(
    api, rider, django_capture_on_commit_callbacks
):
    the_code = _start(api, django_capture_on_commit_callbacks)
    wrong = f"{(int(the_code) + 1) % 1_000_000:06d}"
    assert code(api.post(ME_VERIFY, {"phone": PHONE, "code": the_code})) == (401, "not_authenticated")
    assert code(api.as_(rider).post(ME_VERIFY, {"phone": PHONE, "code": wrong})) == (422, "otp_invalid")
    assert PhoneOtp.objects.get(phone=PHONE).attempts == 1
    rider.refresh_from_db()
    assert rider.phone == ""


def test_changing_the_number_drops_its_verification(api):
    rider = UserFactory.create(phone=PHONE, phone_verified_at=timezone.now())
    same = api.as_(rider).patch("/api/v1/me", {"phone": PHONE, "name": "Still"})
    assert same.json()["phone_verified"] is True
    r = api.as_(rider).patch("/api/v1/me", {"phone": "+33612345678"})
    assert (r.json()["phone"], r.json()["phone_verified"]) == ("+33612345678", False)
