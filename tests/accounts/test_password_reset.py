"""POST auth/password-reset and auth/password-reset/confirm."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import User
from accounts.services import tokens, users
from config.celery import app as celery_app
from tests.accounts.factories import PASSWORD, UserFactory
from tests.accounts.helpers import code

pytestmark = pytest.mark.django_db
RESET, CONFIRM = "/api/v1/auth/password-reset", "/api/v1/auth/password-reset/confirm"


def _uid_token(mail) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    match = re.search(r"uid=(\S+) token=(\S+)", mail.body)
    assert match, mail.body
    return match.group(1), match.group(2)


@pytest.fixture
def eager_celery() -> Iterator[None]:
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def reset(api, django_capture_on_commit_callbacks, eager_celery):  # type: ignore[no-untyped-def]
    """POST a reset request, then run what it queued (the mail task, eagerly) as the commit would."""

    def post(email: str):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(RESET, {"email": email})

    return post


def test_reset_mails_a_link_and_the_token_sets_a_new_password(api, rider, mailoutbox, settings, reset):
    settings.PASSWORD_RESET_URL = "https://app.example/reset?uid={uid}&token={token}"
    old = tokens.token_pair_issue(user=rider)
    r = reset(rider.email.upper())
    assert r.status_code == 202
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [rider.email]
    uid, token = _uid_token(mailoutbox[0])
    assert f"https://app.example/reset?uid={uid}&token={token}" in mailoutbox[0].body
    assert api.post("/api/v1/auth/token/refresh", {"refresh": old.refresh}).status_code == 200
    r = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "brand-new-secret-42"})
    assert r.status_code == 204
    rider.refresh_from_db()
    assert rider.check_password("brand-new-secret-42")
    assert not OutstandingToken.objects.filter(user=rider, blacklistedtoken__isnull=True).exists()
    again = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "another-new-secret-43"})
    assert code(again) == (422, "reset_token_invalid")


@pytest.mark.parametrize("email", ["nobody@example.com", "phone-1@accounts.freewheel.invalid"])
def test_unknown_email_is_also_202_and_sends_nothing(mailoutbox, email, reset):
    assert reset(email).status_code == 202
    assert mailoutbox == []


def test_blocked_account_gets_no_reset_mail(rider, mailoutbox, reset):
    users.user_block(user=rider, reason="x")
    assert reset(rider.email).status_code == 202
    assert mailoutbox == []


def test_the_request_only_queues_the_mail_task_alike_for_known_and_unknown_addresses(
    api, rider, mailoutbox, django_capture_on_commit_callbacks, django_assert_num_queries, eager_celery
):
    """No lookup and no SMTP inside the request: its time cannot tell whether the account exists."""
    queued = {}
    for email in (rider.email, "nobody@example.com"):
        with django_capture_on_commit_callbacks() as callbacks, django_assert_num_queries(0):
            assert api.post(RESET, {"email": email}).status_code == 202
        assert mailoutbox == []  # nothing sent by the request itself
        queued[email] = callbacks
    assert [len(c) for c in queued.values()] == [1, 1]
    queued["nobody@example.com"][0]()
    assert mailoutbox == []
    queued[rider.email][0]()  # the task runs (eagerly here): the mail arrives, for the real account only
    assert [m.to for m in mailoutbox] == [[rider.email]]


def test_reset_malformed_email_is_400(api):
    assert code(api.post(RESET, {"email": "not-an-address"})) == (400, "validation_error")


@pytest.mark.parametrize("uid", ["!!!", urlsafe_base64_encode(b"not-a-uuid"), urlsafe_base64_encode(force_bytes(uuid.uuid4()))])
def test_confirm_with_a_bad_uid_is_422(api, rider, uid):
    token = default_token_generator.make_token(rider)
    r = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "brand-new-secret-42"})
    assert code(r) == (422, "reset_token_invalid")


def test_confirm_with_another_users_token_is_422(api, rider):
    other = UserFactory.create()
    uid = urlsafe_base64_encode(force_bytes(rider.pk))
    token = default_token_generator.make_token(other)
    r = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "brand-new-secret-42"})
    assert code(r) == (422, "reset_token_invalid")
    rider.refresh_from_db()
    assert rider.check_password(PASSWORD)


def test_confirm_with_a_weak_password_is_422_and_keeps_the_token_usable(api, rider):
    uid, token = urlsafe_base64_encode(force_bytes(rider.pk)), default_token_generator.make_token(rider)
    assert code(api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "123"})) == (422, "password_too_weak")
    assert api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "brand-new-secret-42"}).status_code == 204


def test_confirm_for_a_deleted_account_is_422(api, rider):
    uid, token = urlsafe_base64_encode(force_bytes(rider.pk)), default_token_generator.make_token(rider)
    users.user_delete(user=rider)
    r = api.post(CONFIRM, {"uid": uid, "token": token, "new_password": "brand-new-secret-42"})
    assert code(r) == (422, "reset_token_invalid")
    assert User.objects.get(pk=rider.pk).status == "deleted"


def test_confirm_missing_fields_is_400(api):
    assert code(api.post(CONFIRM, {"uid": "x"})) == (400, "validation_error")
