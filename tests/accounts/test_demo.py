"""accounts/demo.py: fixed, printed credentials; safe to run twice."""

from __future__ import annotations

import io

import pytest

from accounts import demo
from accounts.models import User
from accounts.services import auth

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_prints_working_credentials():
    first, second = io.StringIO(), io.StringIO()
    demo.load(stdout=first)
    demo.load(stdout=second)
    assert User.objects.count() == 2
    for out in (first.getvalue(), second.getvalue()):
        assert f"{demo.RIDER_EMAIL} / {demo.RIDER_PASSWORD}" in out
        assert f"{demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}" in out
    assert auth.auth_login(email=demo.RIDER_EMAIL, password=demo.RIDER_PASSWORD).user.phone == demo.RIDER_PHONE
    admin = auth.auth_login(email=demo.ADMIN_EMAIL, password=demo.ADMIN_PASSWORD).user
    assert admin.is_superuser and admin.groups.filter(name="admin").exists()
    summary = io.StringIO()
    demo.summary(stdout=summary)
    assert demo.ADMIN_PASSWORD in summary.getvalue()


def test_the_demo_rider_can_sign_in_by_phone(settings):
    from accounts.services import phone_otp

    demo.load(stdout=io.StringIO())
    user, created = phone_otp.user_get_or_create_for_phone(phone=demo.RIDER_PHONE)
    assert (user.email, created) == (demo.RIDER_EMAIL, False)
