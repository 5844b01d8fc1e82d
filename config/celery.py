import os

from celery import Celery
from celery.signals import beat_init, worker_init, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("freewheel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: object) -> None:
    """Each prefork child, once Django is loaded: no full-heap GC pauses in the middle of a batch (core.gc)."""
    from core.gc import freeze_startup_objects  # here: config.celery loads before Django (config/__init__)

    freeze_startup_objects()


@worker_init.connect
@beat_init.connect
def _refuse_unsafe_start(**_: object) -> None:
    """Celery runs Django's checks at worker start but ignores their result: refuse fakes here (docs/security.md).

    SystemExit, because Celery logs and swallows a signal handler's exceptions."""
    # Here: this module loads with the config package (config/__init__.py), before the settings and apps.
    from django.core.exceptions import ImproperlyConfigured

    from core.checks import refuse_unsafe_start

    try:
        refuse_unsafe_start()
    except ImproperlyConfigured as exc:
        raise SystemExit(str(exc)) from None
