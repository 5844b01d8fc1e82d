"""What production must set and what start-up refuses (docs/security.md): real processes, real environments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow  # every test runs manage.py, a server module or a worker in a process of its own

# The documented production environment (docs/security.md), with a stand-in for the operator's SMS class and an
# FCM service account key of the right shape (start-up reads it; nothing is sent).
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "p7Vq-3nX_e9LmA2rT8wZ0cYk5HsJ1dFgUb6NiOx4RlQ-tMyEa_W3o",
    "ALLOWED_HOSTS": "api.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://api.example.com",
    "BEHIND_TLS_PROXY": "true",
    "TRUSTED_PROXY_COUNT": "1",
    "BILLING_PROVIDER": "stripe",
    "STRIPE_API_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "VEHICLE_GATEWAY": "telemetry.mqtt.MqttGateway",
    "MQTT_URL": "mqtts://fleet:secret@broker.example.com:8883",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
    "EMAIL_HOST_USER": "freewheel",
    "EMAIL_HOST_PASSWORD": "example",
    "SMS_BACKEND": "tests.core.operator_backends.OperatorSms",
    "PUSH_BACKEND": "accounts.fcm.FcmPushBackend",
    "FCM_CREDENTIALS_FILE": str(ROOT / "tests" / "core" / "fcm-service-account.example.json"),
    "METRICS_TOKEN": "metrics-token-example-0123456789",
}


def _env(**changes: str | None) -> dict[str, str]:
    environment = {"PATH": os.environ["PATH"], "DATABASE_URL": os.environ["DATABASE_URL"],
                   "REDIS_URL": os.environ["REDIS_URL"], **PRODUCTION}
    for name, value in changes.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return environment


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


DEPLOY_CHECK = [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"]


def test_the_documented_production_environment_passes_check_deploy_cleanly():
    done = _run(DEPLOY_CHECK, _env())
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (1 silenced)." in done.stdout  # security.W021: HSTS preload off


def test_production_without_a_payment_provider_refuses_the_test_psp():
    done = _run(DEPLOY_CHECK, _env(BILLING_PROVIDER=None))
    assert done.returncode != 0
    assert "(freewheel.E001) BILLING_PROVIDER=testpsp is a fake (testpsp) and DEBUG is off." in done.stderr
    assert "(freewheel.E002) BILLING_TESTPSP_WEBHOOK_SECRET is required" in done.stderr  # no public default


def test_staging_may_allow_fakes_by_name_but_still_needs_their_secrets():
    staging = _env(BILLING_PROVIDER=None, VEHICLE_GATEWAY=None, ALLOW_FAKE_SERVICES="testpsp,gateway",
                   BILLING_TESTPSP_WEBHOOK_SECRET="whsec_staging_0123456789")
    done = _run([sys.executable, "manage.py", "check"], staging)
    assert done.returncode == 0, done.stderr
    done = _run([sys.executable, "manage.py", "check"], _env(ALLOW_FAKE_SERVICES="testpsp,gatway"))
    assert done.returncode != 0 and "ALLOW_FAKE_SERVICES: unknown ['gatway']" in done.stderr


@pytest.mark.parametrize("module", ["config.wsgi", "config.asgi"])
def test_the_wsgi_and_asgi_servers_refuse_to_load_on_a_fake(module):
    done = _run([sys.executable, "-c", f"import {module}"], _env(VEHICLE_GATEWAY=None))
    assert done.returncode != 0
    assert "(freewheel.E001) VEHICLE_GATEWAY=fleet.gateway.SimulatedGateway is a fake (gateway)" in done.stderr
    assert _run([sys.executable, "-c", f"import {module}"], _env()).returncode == 0


def test_a_celery_worker_refuses_to_start_on_a_fake():
    """Celery runs Django's checks at worker start but ignores them: config.celery refuses on worker_init."""
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
               "-Q", f"refusal-test-{os.getpid()}", "--without-heartbeat", "--without-gossip", "--without-mingle"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(SMS_BACKEND=None), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=90)  # a worker that started would run until killed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert "(freewheel.E001) SMS_BACKEND=accounts.sms.ConsoleSmsBackend is a fake (sms)" in output


def test_a_benchmark_and_its_subprocesses_run_on_the_fakes_they_allow():
    code = ("import subprocess, sys; from bench import common; common.setup_django(); "
            "sys.exit(subprocess.run([sys.executable, '-c', 'import config.wsgi']).returncode)")
    environment = {k: v for k, v in os.environ.items() if k not in ("ALLOW_FAKE_SERVICES", "SECRET_KEY")}
    done = _run([sys.executable, "-c", code], {**environment, "DEBUG": "1"})
    assert done.returncode == 0, done.stderr
