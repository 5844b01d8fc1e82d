"""Idempotency-Key: replay, mismatch, concurrency, expiry, scoping, and failures that are not stored."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import tasks
from core.models import IdempotencyKey
from tests.conftest import Api
from tests.core import urls as test_views

pytestmark = pytest.mark.urls("tests.core.urls")
ECHO = "/api/v1/test/echo"


@pytest.fixture(autouse=True)
def _reset_calls():
    test_views.calls.clear()
    test_views.slow_entered.clear()
    test_views.slow_release.clear()


def _post(api, body, key, url=ECHO):  # type: ignore[no-untyped-def]
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_retry_with_same_key_replays_first_response_and_runs_once(api):
    first = _post(api, {"amount": "1.50"}, "k-1")
    second = _post(api, {"amount": "1.50"}, "k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"call": 1, "amount": "1.50"}
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(test_views.calls) == 1


@pytest.mark.django_db
def test_without_a_key_every_post_runs(api):
    api.post(ECHO, {"amount": "1"}, format="json")
    api.post(ECHO, {"amount": "1"}, format="json")
    assert len(test_views.calls) == 2


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_422(api):
    _post(api, {"amount": "1.50"}, "k-2")
    r = _post(api, {"amount": "9.99"}, "k-2")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "idempotency_key_reused"
    assert len(test_views.calls) == 1


@pytest.mark.django_db
def test_client_errors_are_stored_and_replayed(api):
    first = _post(api, {"amount": "x"}, "k-3")
    second = _post(api, {"amount": "x"}, "k-3")
    assert first.status_code == second.status_code == 400
    assert second.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_server_errors_release_the_key_so_a_retry_runs_again(api):
    api.raise_request_exception = False
    assert _post(api, {}, "k-4", url="/api/v1/test/boom").status_code == 500
    assert _post(api, {}, "k-4", url="/api/v1/test/boom").status_code == 500
    assert len(test_views.calls) == 2
    assert not IdempotencyKey.objects.filter(key="k-4").exists()


@pytest.mark.django_db
def test_keys_are_private_to_each_user(api, rider, other_rider):
    a = _post(api.as_(rider), {"amount": "1"}, "shared-key")
    b = _post(Api().as_(other_rider), {"amount": "2"}, "shared-key")
    assert a.status_code == b.status_code == 201
    assert (a.json()["call"], b.json()["call"]) == (1, 2)
    assert IdempotencyKey.objects.filter(key="shared-key").count() == 2


@pytest.mark.django_db
def test_expired_key_is_treated_as_new(api):
    _post(api, {"amount": "1"}, "k-5")
    IdempotencyKey.objects.filter(key="k-5").update(expires_at=timezone.now() - timedelta(seconds=1))
    r = _post(api, {"amount": "2"}, "k-5")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert len(test_views.calls) == 2


@pytest.mark.django_db
def test_purge_task_deletes_only_expired_keys(api):
    _post(api, {"amount": "1"}, "old")
    _post(api, {"amount": "1"}, "fresh")
    IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.idempotency_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.django_db
def test_invalid_key_is_400(api):
    r = _post(api, {"amount": "1"}, "x" * 256)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "idempotency_key_invalid")


@pytest.mark.django_db
def test_stale_in_progress_claim_of_a_crashed_process_is_taken_over(api):
    first = _post(api, {"amount": "1"}, "k-crash")
    assert first.status_code == 201
    # Simulate a process that claimed the key and died before storing its response.
    IdempotencyKey.objects.filter(key="k-crash").update(
        state="in_progress", response_status=None, locked_at=timezone.now() - timedelta(minutes=5)
    )
    r = _post(api, {"amount": "1"}, "k-crash")
    assert r.status_code == 201 and r.json()["call"] == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_gets_409_and_the_work_runs_once():
    results: dict[str, int] = {}

    def first() -> None:
        r = Api().post("/api/v1/test/slow", {}, format="json", HTTP_IDEMPOTENCY_KEY="race")
        results["first"] = r.status_code
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert test_views.slow_entered.wait(timeout=10), "first request never reached the view"
    r = Api().post("/api/v1/test/slow", {}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    test_views.slow_release.set()
    thread.join(timeout=10)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "idempotency_request_in_progress"
    assert r.headers["Retry-After"] == "1"
    assert results["first"] == 201
    assert len(test_views.calls) == 1
    replay = Api().post("/api/v1/test/slow", {}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_two_threads_racing_with_the_same_key_run_the_work_once():
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post() -> None:
        barrier.wait()
        r = Api().post(ECHO, {"amount": "3"}, format="json", HTTP_IDEMPOTENCY_KEY="race-2")
        statuses.append(r.status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(test_views.calls) == 1
    # The loser either saw the claim in progress (409) or the stored response (201 replay).
    assert sorted(statuses) in ([201, 201], [201, 409])
    assert IdempotencyKey.objects.filter(key="race-2").count() == 1


@pytest.mark.django_db
def test_the_caller_is_authenticated_once_per_request(api, rider):
    # The middleware identifies the caller to scope the key; the view must reuse that, not load the user again.
    with CaptureQueriesContext(connection) as queries:
        r = _post(api.as_(rider), {"amount": "1"}, "k-auth-once")
    assert r.status_code == 201
    user_loads = [q for q in queries.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    assert len(user_loads) == 1


# --- Anonymous callers are scoped by their trusted client IP (core.clientip) ----------------------------------


@pytest.mark.django_db
def test_anonymous_clients_on_different_ips_do_not_share_keys(api):
    a = api.post(ECHO, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-anon", REMOTE_ADDR="192.0.2.1")
    b = api.post(ECHO, {"amount": "2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-anon", REMOTE_ADDR="192.0.2.2")
    assert a.status_code == b.status_code == 201  # was 422 idempotency_key_reused for the second client
    assert (a.json()["call"], b.json()["call"]) == (1, 2)
    assert set(IdempotencyKey.objects.filter(key="k-anon").values_list("scope", flat=True)) == {
        "anon:192.0.2.1", "anon:192.0.2.2"}


@pytest.mark.django_db
def test_a_forged_forwarded_header_does_not_give_a_client_another_scope(api):
    """Without a trusted proxy the header is not the caller's identity: same socket, same scope."""
    _post(api, {"amount": "1"}, "k-forged")
    r = api.post(ECHO, {"amount": "2"}, format="json", HTTP_IDEMPOTENCY_KEY="k-forged",
                 HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert (r.status_code, r.json()["error"]["code"]) == (422, "idempotency_key_reused")


@pytest.mark.django_db
def test_behind_a_proxy_clients_are_scoped_by_the_forwarded_address(api, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "172.18.0.5", "HTTP_IDEMPOTENCY_KEY": "k-proxied"}
    a = api.post(ECHO, {"amount": "1"}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    b = api.post(ECHO, {"amount": "2"}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    assert a.status_code == b.status_code == 201
    again = api.post(ECHO, {"amount": "1"}, format="json", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7", **proxy)
    assert again.headers["Idempotent-Replayed"] == "true"


# --- Responses that carry credentials are never stored (Cache-Control: no-store) ------------------------------


def _phone_code(django_capture_on_commit_callbacks, settings) -> str:  # type: ignore[no-untyped-def]
    from accounts import sms
    from accounts.services import phone_otp

    settings.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    with django_capture_on_commit_callbacks(execute=True):
        phone_otp.phone_otp_start(phone="+4915112345678")
    return sms.outbox[-1].body.split()[4].rstrip(".")


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["register", "token", "refresh", "phone-verify", "me-password", "ws-ticket"])
def test_credentials_are_never_stored_or_replayed(api, rider, endpoint, settings, django_capture_on_commit_callbacks):
    from rest_framework_simplejwt.tokens import RefreshToken

    from tests.accounts.factories import PASSWORD

    phone_code = _phone_code(django_capture_on_commit_callbacks, settings) if endpoint == "phone-verify" else ""
    url, body = {
        "register": ("/api/v1/auth/register", {"email": "new@example.com", "password": "analytical-engine-1843",
                                               "name": "Ada", "date_of_birth": "1990-12-10"}),
        "token": ("/api/v1/auth/token", {"email": rider.email, "password": PASSWORD}),
        "refresh": ("/api/v1/auth/token/refresh", {"refresh": str(RefreshToken.for_user(rider))}),
        "phone-verify": ("/api/v1/auth/phone/verify", {"phone": "+4915112345678", "code": phone_code}),
        "me-password": ("/api/v1/me/password", {"old_password": PASSWORD, "new_password": "difference-engine-1822"}),
        "ws-ticket": ("/api/v1/ws-ticket", None),
    }[endpoint]
    if endpoint in ("me-password", "ws-ticket"):
        api.as_(rider)
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-secret")
    assert first.status_code in (200, 201), first.json()
    assert "no-store" in first.headers["Cache-Control"]
    assert not IdempotencyKey.objects.exists()  # no copy of the tokens, not even a claim left behind
    retry = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-secret")
    assert "Idempotent-Replayed" not in retry.headers  # it ran again (register: 409, a used code: 422, ...)
    data = first.json()
    secrets = [value for value in (data.get("tokens") or data).values() if isinstance(value, str)]
    stored = b"".join(bytes(row.response_body or b"") for row in IdempotencyKey.objects.all())
    assert secrets and not any(secret.encode() in stored for secret in secrets)


@pytest.mark.django_db
def test_anonymous_responses_without_secrets_are_still_replayed(api, rider):
    first = _post(api, {"email": rider.email}, "k-reset", url="/api/v1/auth/password-reset")
    again = _post(api, {"email": rider.email}, "k-reset", url="/api/v1/auth/password-reset")
    assert first.status_code == again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
