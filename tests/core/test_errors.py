"""One error envelope for domain errors and DRF's own errors."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls")]


def _error(response):  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_malformed_json_is_400_malformed_request(api):
    r = api.post("/api/v1/test/echo", data="{not json", content_type="application/json")
    assert r.status_code == 400
    assert _error(r)["code"] == "malformed_request"


def test_validation_errors_name_the_fields(api):
    r = api.post("/api/v1/test/echo", {"amount": "abc"}, format="json")
    assert r.status_code == 400
    error = _error(r)
    assert error["code"] == "validation_error"
    assert "amount" in error["details"]["fields"]


def test_missing_field_is_a_validation_error(api):
    r = api.post("/api/v1/test/echo", {}, format="json")
    assert (r.status_code, _error(r)["code"]) == (400, "validation_error")
    assert "amount" in _error(r)["details"]["fields"]


def test_domain_error_carries_its_code_status_and_details(api):
    r = api.post("/api/v1/test/conflict", {}, format="json")
    assert r.status_code == 409
    assert _error(r) == {"code": "conflict", "message": "Vehicle is busy.", "details": {"state": "on_trip"}}


def test_unauthenticated_is_401_with_www_authenticate(api):
    r = api.get("/api/v1/test/private")
    assert r.status_code == 401
    assert _error(r)["code"] == "not_authenticated"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_garbage_token_is_401_token_not_valid(api):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    r = api.get("/api/v1/test/private")
    assert (r.status_code, _error(r)["code"]) == (401, "token_not_valid")


def test_unknown_api_path_is_404_in_the_envelope(api):
    r = api.get("/api/v1/no-such-thing")
    assert r.status_code == 404
    assert _error(r)["code"] == "not_found"


def test_wrong_method_is_405(api):
    r = api.get("/api/v1/test/echo")
    assert (r.status_code, _error(r)["code"]) == (405, "method_not_allowed")


def test_throttled_is_429_with_retry_after(api):
    for _ in range(2):
        assert api.get("/api/v1/test/throttled").status_code == 200
    r = api.get("/api/v1/test/throttled")
    assert r.status_code == 429
    assert _error(r)["code"] == "throttled"
    assert int(r.headers["Retry-After"]) >= 1


def test_unsupported_media_type_is_415(api):
    r = api.post("/api/v1/test/echo", data="amount=1", content_type="application/x-www-form-urlencoded")
    assert (r.status_code, _error(r)["code"]) == (415, "unsupported_media_type")
