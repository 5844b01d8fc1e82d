"""Start-up refusals: with DEBUG off, no fake service and no missing secret (docs/security.md).

Registered as Django system checks under ``TAG``, so every management command that runs checks (``check``,
``check --deploy``, ``migrate``, ``runserver``, ``telemetry_mqtt``...) refuses to start. The servers and workers
that run no checks of their own call ``refuse_unsafe_start()``: ``config.wsgi`` (granian), ``config.asgi``
(daphne) and ``config.celery`` (worker and beat start).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

TAG = "freewheel"

# ALLOW_FAKE_SERVICES name -> (setting, the classes that are fakes). The test PSP is a provider name, not a class.
_FAKE_CLASSES = {
    "gateway": ("VEHICLE_GATEWAY", ("fleet.gateway.SimulatedGateway",)),
    "sms": ("SMS_BACKEND", ("accounts.sms.ConsoleSmsBackend", "accounts.sms.LocmemSmsBackend")),
    "push": ("PUSH_BACKEND", ("accounts.push.LogPushBackend", "accounts.push.LocmemPushBackend")),
    "email": ("EMAIL_BACKEND", (
        "django.core.mail.backends.console.EmailBackend", "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend", "django.core.mail.backends.filebased.EmailBackend",
    )),
}


def _configured(setting: str) -> str:
    if setting == "EMAIL_BACKEND":  # Django 6.1 mailers: settings.py puts EMAIL_BACKEND here
        return str(settings.MAILERS["default"]["BACKEND"])
    return str(getattr(settings, setting))


def _is_fake(path: str, fakes: Sequence[str]) -> bool:
    """A fake, or a subclass of one (a subclass of the simulated gateway still drives no vehicle)."""
    return issubclass(import_string(path), tuple(import_string(fake) for fake in fakes))


@register(TAG)
def fake_services_refused(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, every fake service refuses start-up unless ALLOW_FAKE_SERVICES names it (staging)."""
    messages: list[CheckMessage] = []
    in_use: list[tuple[str, str, str]] = []  # (name, setting, value)
    if settings.BILLING_PROVIDER == "testpsp":
        in_use.append(("testpsp", "BILLING_PROVIDER", "testpsp"))
    for name, (setting, fakes) in _FAKE_CLASSES.items():
        path = _configured(setting)
        try:
            if _is_fake(path, fakes):
                in_use.append((name, setting, path))
        except ImportError as exc:
            messages.append(Error(f"{setting}={path!r} cannot be imported: {exc}", id="freewheel.E003"))
    if not settings.DEBUG:
        allowed = set(settings.ALLOW_FAKE_SERVICES)
        messages += [
            Error(f"{setting}={value} is a fake ({name}) and DEBUG is off.",
                  hint=f"Set {setting} to a real service, or add {name} to ALLOW_FAKE_SERVICES for a staging "
                       "deployment (docs/security.md).", id="freewheel.E001")
            for name, setting, value in in_use if name not in allowed
        ]
    return messages


@register(TAG)
def secrets_required(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The configured payment provider has its keys: no webhook is verified with an empty or a public secret."""
    required = {
        "testpsp": {"BILLING_TESTPSP_WEBHOOK_SECRET": settings.BILLING_TESTPSP_WEBHOOK_SECRET},
        "stripe": {"STRIPE_API_KEY": settings.STRIPE_API_KEY,
                   "STRIPE_WEBHOOK_SECRET": settings.STRIPE_WEBHOOK_SECRET},
    }.get(settings.BILLING_PROVIDER)
    if required is None:
        return [Error(f"BILLING_PROVIDER={settings.BILLING_PROVIDER!r} is unknown: testpsp or stripe.",
                      id="freewheel.E003")]
    return [Error(f"{name} is required with BILLING_PROVIDER={settings.BILLING_PROVIDER}.", id="freewheel.E002")
            for name, value in required.items() if not value]


@register(TAG)
def push_backend_configured(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The push backend has what it needs (FCM: a service account key and a project), in DEBUG too: a push that
    cannot be sent should stop the start, not fail every delivery later."""
    try:
        backend = import_string(settings.PUSH_BACKEND)
    except ImportError:
        return []  # fake_services_refused names it
    errors: list[str] = getattr(backend, "configuration_errors", list)()
    return [Error(str(error), hint="docs/accounts.md \"Push notifications\"", id="freewheel.E002")
            for error in errors]


def refuse_unsafe_start() -> None:
    """Run the checks above; raise ImproperlyConfigured with every error (for processes that run no checks)."""
    errors = [m for m in run_checks(tags=[TAG]) if m.is_serious() and not m.is_silenced()]
    if errors:
        raise ImproperlyConfigured("refusing to start:\n" + "\n".join(str(error) for error in errors))


@register(Tags.staticfiles)
def vendor_static_installed(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The browser libraries of package.json are installed (``make install`` runs ``npm ci``): without them the
    admin's maps have no Leaflet."""
    return [Warning(f"{path} is missing: the admin's maps cannot load {prefix}.",
                    hint="Run `make install` (it runs `npm ci`), or `npm ci` in the project root.", id="core.W010")
            for prefix, path in settings.VENDOR_STATIC.items() if not path.is_dir()]
