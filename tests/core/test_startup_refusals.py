"""core.checks: with DEBUG off, every fake service and every missing payment secret is a start-up error."""

from __future__ import annotations

import re

import pytest
from django.core.checks import run_checks

from core import checks

REAL = {"VEHICLE_GATEWAY": "telemetry.mqtt.MqttGateway", "SMS_BACKEND": "tests.core.operator_backends.OperatorSms",
        "PUSH_BACKEND": "tests.core.operator_backends.OperatorPush"}
SMTP = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": {"host": "smtp.example"}}}


def _errors() -> list[tuple[str, str]]:
    """(id, the setting each message names first)."""
    return sorted((m.id or "", re.match(r"[A-Z_]+", m.msg).group())  # type: ignore[union-attr]
                  for m in run_checks(tags=[checks.TAG]))


@pytest.fixture
def production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG, settings.ALLOW_FAKE_SERVICES, settings.MAILERS = False, [], SMTP
    for name, value in REAL.items():
        setattr(settings, name, value)
    settings.BILLING_PROVIDER, settings.STRIPE_API_KEY, settings.STRIPE_WEBHOOK_SECRET = "stripe", "sk_live_x", "whsec_x"
    return settings


def test_real_services_pass(production):
    assert _errors() == []


def test_each_fake_is_refused_off_debug_and_named(production):
    production.VEHICLE_GATEWAY = "fleet.gateway.SimulatedGateway"
    production.SMS_BACKEND = "accounts.sms.LocmemSmsBackend"
    production.PUSH_BACKEND = "accounts.push.LogPushBackend"
    production.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    production.BILLING_PROVIDER, production.BILLING_TESTPSP_WEBHOOK_SECRET = "testpsp", "whsec_staging"
    assert _errors() == [("freewheel.E001", name) for name in
                         ("BILLING_PROVIDER", "EMAIL_BACKEND", "PUSH_BACKEND", "SMS_BACKEND", "VEHICLE_GATEWAY")]
    production.ALLOW_FAKE_SERVICES = ["testpsp", "gateway", "sms", "push"]
    assert _errors() == [("freewheel.E001", "EMAIL_BACKEND")]
    production.DEBUG = True
    assert _errors() == []


def test_a_subclass_of_a_fake_is_a_fake(production):
    production.VEHICLE_GATEWAY = "tests.core.test_startup_refusals.RenamedSimulator"
    assert _errors() == [("freewheel.E001", "VEHICLE_GATEWAY")]


def test_payment_secrets_have_no_usable_default(production):
    production.STRIPE_WEBHOOK_SECRET = ""
    assert _errors() == [("freewheel.E002", "STRIPE_WEBHOOK_SECRET")]
    production.ALLOW_FAKE_SERVICES = ["testpsp"]
    production.BILLING_PROVIDER, production.BILLING_TESTPSP_WEBHOOK_SECRET = "testpsp", ""
    assert _errors() == [("freewheel.E002", "BILLING_TESTPSP_WEBHOOK_SECRET")]
    production.BILLING_PROVIDER = "paypal"
    assert _errors() == [("freewheel.E003", "BILLING_PROVIDER")]


def test_a_class_that_cannot_be_imported_is_an_error(production):
    production.SMS_BACKEND = "accounts.sms.TwilioBackend"
    assert _errors() == [("freewheel.E003", "SMS_BACKEND")]


from fleet.gateway import SimulatedGateway  # noqa: E402


class RenamedSimulator(SimulatedGateway):
    pass
