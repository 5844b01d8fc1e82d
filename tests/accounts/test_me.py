"""GET/PATCH/DELETE /api/v1/me and POST /api/v1/me/password."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import signals
from accounts.models import PhoneOtp, User
from accounts.services import phone_otp, tokens
from core.errors import Conflict
from tests.accounts.factories import PASSWORD, UserFactory
from tests.accounts.helpers import code, error

pytestmark = pytest.mark.django_db
ME, PASSWORD_URL, REFRESH = "/api/v1/me", "/api/v1/me/password", "/api/v1/auth/token/refresh"


def test_me_requires_authentication(api):
    assert code(api.get(ME)) == (401, "not_authenticated")


def test_me_shows_the_account_and_its_roles(api, rider):
    rider.groups.add(Group.objects.get(name="support_agent"))
    with_roles = api.as_(rider).get(ME).json()
    assert with_roles == {
        "id": str(rider.pk),
        "email": rider.email,
        "phone": None,
        "phone_verified": False,
        "name": rider.name,
        "date_of_birth": "1990-01-01",
        "status": "active",
        "is_staff": False,
        "roles": ["support_agent"],
        "created_at": with_roles["created_at"],
        "ride_requirements": [],  # no city, no vehicle type: nothing to ask (tests/rides/test_requirements.py)
    }
    assert with_roles["created_at"].endswith("Z")


def test_patch_changes_only_the_given_fields(api, rider):
    r = api.as_(rider).patch(ME, {"name": "New Name", "phone": "+4915112345678"})
    assert r.status_code == 200, r.json()
    rider.refresh_from_db()
    assert (rider.name, rider.phone, str(rider.date_of_birth)) == ("New Name", "+4915112345678", "1990-01-01")


def test_patch_clears_phone_and_date_of_birth(api):
    rider = UserFactory.create(phone="+4915112345678")
    r = api.as_(rider).patch(ME, {"phone": "", "date_of_birth": None})
    assert r.status_code == 200
    rider.refresh_from_db()
    assert (rider.phone, rider.date_of_birth) == ("", None)


def test_email_change_is_normalised_and_rechecks_uniqueness(api, rider, other_rider):
    r = api.as_(rider).patch(ME, {"email": other_rider.email.upper()})
    assert code(r) == (409, "email_taken")
    rider.refresh_from_db()
    assert rider.email != other_rider.email
    assert api.as_(rider).patch(ME, {"email": "Fresh@Example.com"}).json()["email"] == "fresh@example.com"


def test_keeping_ones_own_email_is_not_a_conflict(api, rider):
    assert api.as_(rider).patch(ME, {"email": rider.email.upper()}).status_code == 200


def test_phone_of_another_account_is_409(api, rider):
    UserFactory.create(phone="+4915112345678")
    assert code(api.as_(rider).patch(ME, {"phone": "+4915112345678"})) == (409, "phone_taken")


@pytest.mark.parametrize(
    "payload", [{"email": "nope"}, {"phone": "12345"}, {"date_of_birth": "yesterday"}, {"name": "x" * 151}]
)
def test_patch_bad_input_is_400(api, rider, payload):
    r = api.as_(rider).patch(ME, payload)
    assert code(r) == (400, "validation_error")
    assert set(error(r)["details"]["fields"]) == set(payload)


def test_password_change_revokes_old_sessions_and_returns_a_new_pair(api, rider):
    old = tokens.token_pair_issue(user=rider)
    r = api.as_(rider).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": "a-much-better-secret"})
    assert r.status_code == 200
    rider.refresh_from_db()
    assert rider.check_password("a-much-better-secret")
    assert code(api.anonymous().post(REFRESH, {"refresh": old.refresh})) == (401, "token_not_valid")
    assert api.post(REFRESH, {"refresh": r.json()["refresh"]}).status_code == 200


def test_password_change_ends_access_tokens_already_handed_out(api, rider):
    old_client = api.as_(rider)
    r = old_client.post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": "a-much-better-secret"})
    assert r.status_code == 200
    assert code(old_client.get(ME)) == (401, "password_changed")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['access']}")
    assert api.get(ME).status_code == 200


def test_password_change_with_wrong_old_password_is_422(api, rider):
    r = api.as_(rider).post(PASSWORD_URL, {"old_password": "not-it", "new_password": "a-much-better-secret"})
    assert code(r) == (422, "wrong_password")
    rider.refresh_from_db()
    assert rider.check_password(PASSWORD)


def test_password_change_to_a_weak_password_is_422(api, rider):
    r = api.as_(rider).post(PASSWORD_URL, {"old_password": PASSWORD, "new_password": "password"})
    assert code(r) == (422, "password_too_weak")
    rider.refresh_from_db()
    assert rider.check_password(PASSWORD)


def test_phone_account_sets_a_first_password_without_an_old_one(api):
    user = User.objects.create_user(email="phone-x@accounts.freewheel.invalid", phone="+4915112345678")
    assert not user.has_usable_password()
    r = api.as_(user).post(PASSWORD_URL, {"new_password": "a-much-better-secret"})
    assert r.status_code == 200
    user.refresh_from_db()
    assert user.check_password("a-much-better-secret")


def test_delete_anonymises_but_keeps_the_row(api):
    rider = UserFactory.create(phone="+4915112345678", name="Grace Hopper")
    rider.groups.add(Group.objects.get(name="finance"))
    pairs = [tokens.token_pair_issue(user=rider) for _ in range(2)]
    phone_otp.phone_otp_start(phone="+4915112345678")
    r = api.as_(rider).delete(ME)
    assert r.status_code == 204
    rider.refresh_from_db()
    assert rider.status == User.Status.DELETED and not rider.is_active
    assert rider.email.endswith("@accounts.freewheel.invalid") and "grace" not in rider.email
    assert (rider.name, rider.phone, rider.date_of_birth) == ("", "", None)
    assert not rider.has_usable_password()
    assert not rider.groups.exists()
    assert not PhoneOtp.objects.exists()
    live = OutstandingToken.objects.filter(user=rider, blacklistedtoken__isnull=True)
    assert not live.exists()
    for pair in pairs:
        assert code(api.anonymous().post(REFRESH, {"refresh": pair.refresh})) == (401, "token_not_valid")


def test_deleted_accounts_free_their_email_and_phone(api, rider):
    email = rider.email
    api.as_(rider).delete(ME)
    again = api.anonymous().post(
        "/api/v1/auth/register",
        {"email": email, "password": "a-much-better-secret", "name": "Back", "date_of_birth": "1990-01-01"},
    )
    assert again.status_code == 201
    assert User.objects.count() == 2


def test_two_deleted_accounts_get_distinct_placeholders(api, rider, other_rider):
    api.as_(rider).delete(ME)
    api.as_(other_rider).delete(ME)
    rider.refresh_from_db()
    other_rider.refresh_from_db()
    assert rider.email != other_rider.email


def test_a_listener_can_refuse_deletion_and_nothing_is_written(api, rider):
    email = rider.email
    tokens.token_pair_issue(user=rider)

    def refuse(sender, user, **kwargs):  # type: ignore[no-untyped-def]
        raise Conflict("A ride is still open.")

    signals.user_deleting.connect(refuse)
    try:
        r = api.as_(rider).delete(ME)
    finally:
        signals.user_deleting.disconnect(refuse)
    assert code(r) == (409, "conflict")
    rider.refresh_from_db()
    assert (rider.status, rider.email, rider.is_active) == ("active", email, True)
    assert not OutstandingToken.objects.filter(user=rider, blacklistedtoken__isnull=False).exists()
