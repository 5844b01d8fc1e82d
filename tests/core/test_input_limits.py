"""Crafted input answers a 4xx in the API's envelope, never a 500 or Django's HTML page (docs/security.md
"Input limits"): deep JSON, forged cursors, absurd amounts, OPTIONS on the HTML receipt, oversize bodies."""

from __future__ import annotations

import base64
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.services import notify
from billing.models import Payment, RideBilling, TestPspIntent
from tests.billing.conftest import add_card, fund

pytestmark = pytest.mark.django_db

TOKEN, TOP_UP = "/api/v1/auth/token", "/api/v1/wallet/top-ups"
DEEP = 100_000


def _error(r: Any) -> tuple[int, str]:
    assert r["Content-Type"].startswith("application/json"), r.content[:200]
    return r.status_code, r.json()["error"]["code"]


def _raw(api: Any, url: str, body: bytes, **extra: Any) -> Any:
    return api.generic("POST", url, body, content_type="application/json", **extra)


@pytest.mark.parametrize("body", [b"[" * DEEP + b"]" * DEEP, b'{"email":' * 20_000 + b"1" + b"}" * 20_000])
def test_deep_json_on_the_anonymous_token_endpoint_is_400(api, body):
    assert _error(_raw(api.anonymous(), TOKEN, body)) == (400, "malformed_request")


def test_deep_json_on_a_signed_in_endpoint_is_400_and_charges_nothing(api, rider):
    card = add_card(rider)
    body = b'{"payment_method": "%s", "amount": ' % str(card.pk).encode() + b"[" * DEEP + b"]" * DEEP + b"}"
    assert _error(_raw(api.as_(rider), TOP_UP, body)) == (400, "malformed_request")
    assert _error(_raw(api.as_(rider), TOP_UP, body, HTTP_IDEMPOTENCY_KEY="deep-1")) == (400, "malformed_request")
    assert not Payment.objects.exists()


def test_json_as_deep_as_1024_levels_still_parses(api):
    r = _raw(api.anonymous(), TOKEN, b'{"email": ' + b"[" * 1023 + b"]" * 1023 + b', "password": "x"}')
    assert _error(r) == (400, "validation_error")


def _forged(position: str = "x") -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize("url", ["/api/v1/rides", "/api/v1/wallet/transactions", "/api/v1/me/notifications"])
@pytest.mark.parametrize("cursor", [_forged("x"), _forged("2026-13-45T99:00:00Z"), _forged("9" * 400),
                                    base64.b64encode(b"o=-5").decode(), "%C3%A9"])
def test_a_forged_cursor_is_400_cursor_invalid(api, rider, url, cursor):
    assert _error(api.as_(rider).get(f"{url}?cursor={cursor}")) == (400, "cursor_invalid")


def test_a_cursor_we_issued_still_pages(api, rider):
    for n in range(3):
        notify(user_id=rider.pk, kind="test", title=f"n{n}")
    first = api.as_(rider).get("/api/v1/me/notifications?page_size=2").json()
    rest = api.as_(rider).get(first["next"]).json()
    assert len(first["results"]) == 2 and len(rest["results"]) == 1


@pytest.mark.parametrize("amount", ["1e308", "-1e308", "1e28", "100000000000000"])
def test_an_absurd_top_up_amount_is_400_and_charges_nothing(api, rider, amount):
    card = add_card(rider)
    r = api.as_(rider).post(TOP_UP, {"amount": {"amount": amount, "currency": "EUR"},
                                     "payment_method": str(card.pk)}, format="json")
    assert _error(r) == (400, "validation_error")
    assert r.json()["error"]["details"]["fields"]["amount"] == ["The amount is out of range."]
    assert not Payment.objects.exists() and not TestPspIntent.objects.exists()


def test_options_on_the_html_receipt_answers_json_not_a_500(api, rider, client):
    fund(rider, "10.00")
    billing = RideBilling.objects.create(ride_id=uuid.uuid4(), user=rider, currency="EUR", method="wallet",
                                         hold_amount=Decimal("5.00"))
    url = f"/api/v1/billing/rides/{billing.ride_id}/receipt.html"
    options = api.as_(rider).options(url)  # DRF's metadata, in JSON as on every endpoint (main's fix, openapi)
    assert options.status_code == 200 and options["Content-Type"].startswith("application/json")
    assert _error(api.anonymous().options(url)) == (401, "not_authenticated")
    assert _error(api.as_(rider).get(f"/api/v1/billing/rides/{uuid.uuid4()}/receipt.html")) == (
        404, "ride_billing_not_found")


def test_an_oversize_json_body_is_413_request_too_large(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = b'{"email": "a@example.com", "password": "' + b"x" * 2_000 + b'"}'
    assert _error(_raw(api.anonymous(), TOKEN, body)) == (413, "request_too_large")
    assert _error(_raw(api.anonymous(), TOKEN, body, HTTP_IDEMPOTENCY_KEY="big-1")) == (413, "request_too_large")


def test_an_oversize_form_is_413_request_too_large(api, rider, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    r = api.as_(rider).post(f"/api/v1/rides/{uuid.uuid4()}/problems", {"description": "x" * 2_000},
                            format="multipart")
    assert _error(r) == (413, "request_too_large")
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    fields: dict[str, Any] = {f"f{n}": "x" for n in range(10)} | {"photo": SimpleUploadedFile("a.jpg", b"x")}
    assert _error(api.as_(rider).post(f"/api/v1/rides/{uuid.uuid4()}/problems", fields,
                                      format="multipart")) == (413, "request_too_large")


def test_a_suspicious_request_outside_drf_gets_the_envelope_under_api(settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    r = Client().get("/api/v1/wallet", HTTP_HOST="evil.example")
    assert _error(r) == (400, "malformed_request")
    assert Client().get("/admin/", HTTP_HOST="evil.example").status_code == 400  # Django's page, as before
