"""POST auth/token, auth/token/refresh, auth/logout; the default JWT authentication."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import errors
from accounts.models import User
from accounts.services import tokens, users
from tests.accounts.factories import PASSWORD, UserFactory
from tests.accounts.helpers import code, error

pytestmark = pytest.mark.django_db
TOKEN, REFRESH, LOGOUT, ME = "/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/auth/logout", "/api/v1/me"


def _bearer(api, access):  # type: ignore[no-untyped-def]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def test_login_returns_a_pair_that_authenticates(api, rider):
    r = api.post(TOKEN, {"email": rider.email.upper(), "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["id"] == str(rider.pk) and body["created"] is False
    assert _bearer(api, body["tokens"]["access"]).get(ME).json()["email"] == rider.email
    assert OutstandingToken.objects.filter(user=rider).count() == 1
    rider.refresh_from_db()
    assert rider.last_login is not None


@pytest.mark.parametrize(
    "payload", [{"email": "rider@nowhere.example", "password": PASSWORD}, {"email": None, "password": "wrong-one"}]
)
def test_wrong_email_or_password_is_401_invalid_credentials(api, rider, payload):
    payload = {**payload, "email": payload["email"] or rider.email}
    r = api.post(TOKEN, payload)
    assert code(r) == (401, "invalid_credentials")
    assert not OutstandingToken.objects.exists()


def test_login_missing_password_is_400(api, rider):
    assert code(api.post(TOKEN, {"email": rider.email})) == (400, "validation_error")


def test_blocked_user_login_is_403_with_the_reason(api, rider):
    users.user_block(user=rider, reason="fraudulent chargebacks")
    r = api.post(TOKEN, {"email": rider.email, "password": PASSWORD})
    assert code(r) == (403, "account_blocked")
    assert error(r)["details"] == {"reason": "fraudulent chargebacks"}


def test_blocked_user_with_a_wrong_password_learns_nothing(api, rider):
    users.user_block(user=rider, reason="x")
    assert code(api.post(TOKEN, {"email": rider.email, "password": "wrong-password"})) == (401, "invalid_credentials")


def test_refresh_rotates_and_the_old_refresh_is_revoked(api, rider):
    pair = tokens.token_pair_issue(user=rider)
    r = api.post(REFRESH, {"refresh": pair.refresh})
    assert r.status_code == 200
    new = r.json()
    assert new["refresh"] != pair.refresh
    assert _bearer(api, new["access"]).get(ME).status_code == 200
    again = api.anonymous().post(REFRESH, {"refresh": pair.refresh})
    assert code(again) == (401, "token_not_valid")


def test_reuse_of_a_rotated_refresh_token_revokes_its_whole_family(api, rider):
    a = tokens.token_pair_issue(user=rider)
    other_device = tokens.token_pair_issue(user=rider)
    b = api.post(REFRESH, {"refresh": a.refresh}).json()  # A -> B
    assert code(api.post(REFRESH, {"refresh": a.refresh})) == (401, "token_not_valid")  # A again: reuse
    assert code(api.post(REFRESH, {"refresh": b["refresh"]})) == (401, "token_not_valid")  # B went with it
    assert code(api.post(LOGOUT, {"refresh": b["refresh"]})) == (401, "token_not_valid")
    assert api.post(REFRESH, {"refresh": other_device.refresh}).status_code == 200  # another sign-in: unaffected
    assert OutstandingToken.objects.filter(user=rider, blacklistedtoken__isnull=True).count() == 1


def test_reuse_deep_in_a_chain_revokes_the_newest_token(api, rider):
    chain = [tokens.token_pair_issue(user=rider).refresh]
    for _ in range(3):
        chain.append(api.post(REFRESH, {"refresh": chain[-1]}).json()["refresh"])
    assert code(api.post(REFRESH, {"refresh": chain[0]})) == (401, "token_not_valid")
    assert code(api.post(REFRESH, {"refresh": chain[-1]})) == (401, "token_not_valid")


def test_reuse_of_a_token_issued_before_families_revokes_every_token_of_the_user(api, rider):
    legacy = RefreshToken.for_user(rider)  # no family row, as tokens issued before this release
    newer = api.post(REFRESH, {"refresh": str(legacy)}).json()["refresh"]
    other = tokens.token_pair_issue(user=rider)
    assert code(api.post(REFRESH, {"refresh": str(legacy)})) == (401, "token_not_valid")
    for raw in (newer, other.refresh):
        assert code(api.post(REFRESH, {"refresh": raw})) == (401, "token_not_valid")


def test_expired_refresh_is_401_token_not_valid(api, rider):
    refresh = RefreshToken.for_user(rider)
    refresh.set_exp(from_time=timezone.now() - timedelta(days=31))
    assert code(api.post(REFRESH, {"refresh": str(refresh)})) == (401, "token_not_valid")


@pytest.mark.parametrize("raw", ["garbage", ""])
def test_garbage_refresh_is_rejected(api, raw):
    r = api.post(REFRESH, {"refresh": raw})
    assert r.status_code in (400, 401)
    assert error(r)["code"] == ("validation_error" if raw == "" else "token_not_valid")


def test_an_access_token_is_not_a_refresh_token(api, rider):
    access = RefreshToken.for_user(rider).access_token
    assert code(api.post(REFRESH, {"refresh": str(access)})) == (401, "token_not_valid")


def test_expired_access_token_is_401(api, rider):
    access = AccessToken.for_user(rider)
    access.set_exp(from_time=timezone.now() - timedelta(minutes=16))
    assert code(_bearer(api, str(access)).get(ME)) == (401, "token_not_valid")


def test_refresh_for_a_blocked_user_is_403(api, rider):
    pair = tokens.token_pair_issue(user=rider)
    users.user_block(user=rider, reason="stolen card")
    assert code(api.post(REFRESH, {"refresh": pair.refresh})) == (403, "account_blocked")


def test_blocked_user_is_refused_on_every_authenticated_request(api, rider):
    client = api.as_(rider)
    assert client.get(ME).status_code == 200
    users.user_block(user=rider, reason="abuse")
    r = client.get(ME)
    assert code(r) == (403, "account_blocked")
    assert error(r)["details"]["reason"] == "abuse"
    users.user_unblock(user=rider)
    assert client.get(ME).status_code == 200


def test_deleted_user_is_refused_on_every_authenticated_request(api, rider):
    client = api.as_(rider)
    users.user_delete(user=rider)
    assert code(client.get(ME)) == (401, "account_inactive")


def test_logout_revokes_only_that_refresh_token(api, rider):
    phone, laptop = tokens.token_pair_issue(user=rider), tokens.token_pair_issue(user=rider)
    r = api.post(LOGOUT, {"refresh": phone.refresh})
    assert (r.status_code, r.json()) == (200, {"revoked": 1})
    assert code(api.post(REFRESH, {"refresh": phone.refresh})) == (401, "token_not_valid")
    assert api.post(REFRESH, {"refresh": laptop.refresh}).status_code == 200


def test_logout_everywhere_revokes_all_of_the_users_tokens(api, rider, other_rider):
    pairs = [tokens.token_pair_issue(user=rider) for _ in range(3)]
    theirs = tokens.token_pair_issue(user=other_rider)
    r = api.post(LOGOUT, {"refresh": pairs[0].refresh, "everywhere": True})
    assert (r.status_code, r.json()) == (200, {"revoked": 3})
    for pair in pairs:
        assert code(api.post(REFRESH, {"refresh": pair.refresh})) == (401, "token_not_valid")
    assert api.post(REFRESH, {"refresh": theirs.refresh}).status_code == 200


def test_logout_with_a_revoked_token_is_401(api, rider):
    pair = tokens.token_pair_issue(user=rider)
    api.post(LOGOUT, {"refresh": pair.refresh})
    assert code(api.post(LOGOUT, {"refresh": pair.refresh})) == (401, "token_not_valid")


def test_logout_works_with_an_expired_access_token_in_the_header(api, rider):
    pair = tokens.token_pair_issue(user=rider)
    access = AccessToken.for_user(rider)
    access.set_exp(from_time=timezone.now() - timedelta(hours=1))
    assert _bearer(api, str(access)).post(LOGOUT, {"refresh": pair.refresh}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_yield_one_new_pair_then_count_as_reuse(api):
    rider = UserFactory.create()
    pair = tokens.token_pair_issue(user=rider)
    results: list[object] = []
    barrier = threading.Barrier(4)

    def refresh() -> None:
        barrier.wait()
        try:
            results.append(tokens.token_refresh(raw=pair.refresh))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, tokens.TokenPair) for r in results) == 1
    assert sorted(getattr(r, "code", "") for r in results if not isinstance(r, tokens.TokenPair)) == [
        "token_not_valid"
    ] * 3
    # The losers presented a token that was rotated meanwhile: reuse, so the winner's new token is revoked too.
    assert BlacklistedToken.objects.filter(token__user=rider).count() == 2
    winner = next(r for r in results if isinstance(r, tokens.TokenPair))
    with pytest.raises(errors.TokenNotValid):
        tokens.token_refresh(raw=winner.refresh)
    assert User.objects.filter(pk=rider.pk).exists()
