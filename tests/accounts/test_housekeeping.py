"""Periodic tasks of accounts, and the query budget of authenticated requests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import tasks
from accounts.models import PhoneOtp
from accounts.services import tokens

pytestmark = pytest.mark.django_db


def test_phone_otp_purge_drops_only_codes_expired_over_an_hour_ago():
    now = timezone.now()
    PhoneOtp.objects.create(phone="+4915112345678", code_hash="x", expires_at=now - timedelta(hours=2))
    PhoneOtp.objects.create(phone="+4915112345679", code_hash="x", expires_at=now - timedelta(minutes=5))
    PhoneOtp.objects.create(phone="+33612345678", code_hash="x", expires_at=now + timedelta(minutes=5))
    assert tasks.phone_otp_purge() == 1
    assert tasks.phone_otp_purge() == 0
    assert sorted(PhoneOtp.objects.values_list("phone", flat=True)) == ["+33612345678", "+4915112345679"]


def test_tokens_flush_expired_deletes_dead_refresh_records_and_their_blacklist_rows(rider):
    live = tokens.token_pair_issue(user=rider)
    dead = RefreshToken.for_user(rider)
    OutstandingToken.objects.filter(jti=dead["jti"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    BlacklistedToken.objects.create(token=OutstandingToken.objects.get(jti=dead["jti"]))
    assert tasks.tokens_flush_expired() == 2  # the outstanding row and its blacklist row
    assert list(OutstandingToken.objects.values_list("token", flat=True)) == [live.refresh]
    assert not BlacklistedToken.objects.exists()


def test_tasks_are_scheduled():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"accounts.tasks.phone_otp_purge", "accounts.tasks.tokens_flush_expired"} <= scheduled


def test_me_costs_three_queries(api, rider, django_assert_num_queries):
    client = api.as_(rider)
    # the account (authentication), its role groups, the cities' currencies (ride requirements: with a city, its
    # money gate adds the card and one balance per currency; tests/rides/test_requirements.py)
    with django_assert_num_queries(3):
        assert client.get("/api/v1/me").status_code == 200
