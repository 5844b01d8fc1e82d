"""POST /api/v1/auth/register."""

from __future__ import annotations

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code, error

pytestmark = pytest.mark.django_db
URL = "/api/v1/auth/register"
GOOD = {
    "email": "Ada.Lovelace@Example.com",
    "password": "analytical-engine-1843",
    "name": "Ada Lovelace",
    "phone": "+44 7911 123456",
    "date_of_birth": "1990-12-10",
}


def test_register_creates_the_user_and_returns_a_working_token_pair(api):
    r = api.post(URL, GOOD)
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["created"] is True
    assert body["user"]["email"] == "ada.lovelace@example.com"
    assert body["user"]["phone"] == "+447911123456"
    assert body["user"]["date_of_birth"] == "1990-12-10"
    assert body["user"]["status"] == "active"
    user = User.objects.get(email="ada.lovelace@example.com")
    assert user.check_password(GOOD["password"])
    assert str(user.pk) == str(AccessToken(body["tokens"]["access"])["user_id"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['tokens']['access']}")
    assert api.get("/api/v1/me").json()["id"] == str(user.pk)


def test_phone_is_optional(api):
    r = api.post(URL, {k: v for k, v in GOOD.items() if k != "phone"})
    assert r.status_code == 201
    assert r.json()["user"]["phone"] is None


@pytest.mark.parametrize("email", ["ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM"])
def test_duplicate_email_is_409_also_when_only_the_case_differs(api, email):
    UserFactory.create(email="ada.lovelace@example.com")
    r = api.post(URL, {**GOOD, "email": email})
    assert code(r) == (409, "email_taken")
    assert User.objects.filter(email__iexact=email).count() == 1


def test_duplicate_phone_is_409(api):
    UserFactory.create(phone="+447911123456")
    assert code(api.post(URL, GOOD)) == (409, "phone_taken")


def test_weak_password_is_422_with_the_validator_messages(api):
    r = api.post(URL, {**GOOD, "password": "12345"})
    assert code(r) == (422, "password_too_weak")
    messages = error(r)["details"]["messages"]
    assert any("too short" in m for m in messages)
    assert any("entirely numeric" in m for m in messages)
    assert not User.objects.exists()


def test_password_similar_to_the_email_is_too_weak(api):
    r = api.post(URL, {**GOOD, "password": "ada.lovelace@example"})
    assert code(r) == (422, "password_too_weak")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"email": "someone@accounts.freewheel.invalid"}, "email"),
        ({"phone": "0151 1234567"}, "phone"),
        ({"phone": "+49123"}, "phone"),
        ({"date_of_birth": "10.12.1990"}, "date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"name": ""}, "name"),
    ],
)
def test_malformed_input_is_400_naming_the_field(api, change, field):
    r = api.post(URL, {**GOOD, **change})
    assert code(r) == (400, "validation_error")
    assert field in error(r)["details"]["fields"]
    assert not User.objects.exists()


@pytest.mark.parametrize("missing", ["email", "password", "name", "date_of_birth"])
def test_missing_required_field_is_400(api, missing):
    r = api.post(URL, {k: v for k, v in GOOD.items() if k != missing})
    assert code(r) == (400, "validation_error")
    assert missing in error(r)["details"]["fields"]


def test_malformed_json_is_400(api):
    r = api.post(URL, data="{nope", content_type="application/json")
    assert code(r) == (400, "malformed_request")
