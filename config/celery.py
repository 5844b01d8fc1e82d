import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("freewheel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _freeze_startup_objects(**_: object) -> None:
    """Each prefork child, once Django is loaded: no full-heap GC pauses in the middle of a batch (core.gc)."""
    from core.gc import freeze_startup_objects

    freeze_startup_objects()
