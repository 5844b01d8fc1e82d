"""Races that the database must settle: two registrations of one email, two verifications of one code."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from accounts import errors, sms
from accounts.models import PhoneOtp, User
from accounts.services import auth, phone_otp

pytestmark = pytest.mark.django_db(transaction=True)


def _race(n: int, work: Callable[[], Any]) -> list[Any]:
    barrier, results, lock = threading.Barrier(n), [], threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            outcome = work()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            outcome = exc
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_registrations_of_one_email_create_one_account():
    def register() -> auth.SignIn:
        return auth.auth_register(
            email="Same@Example.com",
            password="analytical-engine-1843",
            name="Ada",
            date_of_birth=dt.date(1990, 1, 1),
        )

    results = _race(4, register)
    assert sum(isinstance(r, auth.SignIn) for r in results) == 1
    assert all(isinstance(r, errors.EmailTaken) for r in results if not isinstance(r, auth.SignIn))
    assert User.objects.filter(email__iexact="same@example.com").count() == 1


def test_concurrent_verifications_of_one_code_sign_in_once(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    sms.outbox.clear()
    phone = "+4915112345678"
    phone_otp.phone_otp_start(phone=phone)  # autocommit here: on_commit runs at once
    match = re.search(r"\b(\d{6})\b", sms.outbox[-1].body)
    assert match
    code = match.group(1)
    results = _race(4, lambda: auth.auth_phone_verify(phone=phone, code=code))
    assert sum(isinstance(r, auth.SignIn) for r in results) == 1
    assert all(isinstance(r, errors.OtpInvalid) for r in results if not isinstance(r, auth.SignIn))
    assert User.objects.filter(phone=phone).count() == 1
    assert not PhoneOtp.objects.exists()
