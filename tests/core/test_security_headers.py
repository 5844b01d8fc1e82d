"""HTTPS redirect and HSTS behind a TLS proxy, Content-Security-Policy with nonces, CORS for listed origins."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def behind_tls(settings):  # type: ignore[no-untyped-def]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS = True, 31_536_000
    return Client()


def test_plain_http_is_redirected_except_probes_and_scrapes(behind_tls):
    r = behind_tls.get("/api/v1/tariffs")
    assert (r.status_code, r["Location"]) == (301, "https://testserver/api/v1/tariffs")
    for url in ("/healthz", "/readyz", "/metrics"):
        assert behind_tls.get(url).status_code == 200, url
    r = behind_tls.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def _nonce(response) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r"script-src 'self' 'nonce-([^']+)'", response["Content-Security-Policy"])
    assert match, response["Content-Security-Policy"]
    return match.group(1)


def test_admin_and_swagger_have_a_policy_and_no_inline_script_without_the_nonce(client):
    for url in ("/admin/login/", "/api/docs/"):
        r = client.get(url)
        nonce = _nonce(r)
        assert "default-src 'self'" in r["Content-Security-Policy"] and "frame-ancestors 'none'" in r["Content-Security-Policy"]
        html = r.content.decode()
        assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*nonce=\"" + re.escape(nonce) + ")", html) == [], url
        assert re.findall(r"<style(?![^>]*nonce=\"" + re.escape(nonce) + ")", html) == [], url
    r = client.get("/api/docs/?script=")  # Swagger UI's init script is a file of its own (CSP 'self')
    assert r.status_code == 200 and "SwaggerUIBundle" in r.content.decode()


def test_cross_origin_calls_only_from_listed_origins(client, settings):
    preflight = {"HTTP_ORIGIN": "https://ops.example.com", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST",
                 "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "authorization,idempotency-key"}
    assert "Access-Control-Allow-Origin" not in client.options("/api/v1/rides/start", **preflight)
    settings.CORS_ALLOWED_ORIGINS = ["https://ops.example.com"]
    r = client.options("/api/v1/rides/start", **preflight)
    assert r["Access-Control-Allow-Origin"] == "https://ops.example.com"
    assert "idempotency-key" in r["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in r
    evil = client.options("/api/v1/rides/start", **{**preflight, "HTTP_ORIGIN": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil
