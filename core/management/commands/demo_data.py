"""``manage.py demo_data``: load the demo city that each app contributes through ``<app>/demo.py``.

An app's ``demo.py`` defines ``load(*, stdout: TextIO) -> None`` (idempotent; prints the credentials and ids a
developer needs) and may define ``summary(*, stdout: TextIO) -> None`` (read-only; prints the same facts for a
database that already holds the demo). Apps without ``demo.py`` are skipped. Loading is all or nothing. The
database counts as empty while it has no user account.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

DEMO_APPS = ("accounts", "fleet", "billing", "rides", "feeds")

DemoHook = Callable[..., None]


def demo_hooks(name: str) -> list[tuple[str, DemoHook]]:
    """``(app, hook)`` for each app, in load order, whose ``demo.py`` defines ``name`` (load or summary)."""
    hooks = []
    for app in DEMO_APPS:
        if importlib.util.find_spec(f"{app}.demo") is None:
            continue
        hook = getattr(importlib.import_module(f"{app}.demo"), name, None)
        if callable(hook):
            hooks.append((app, hook))
    return hooks


def database_is_empty() -> bool:
    """A fresh database has no user account yet. (Data migrations may seed other tables, never users.)"""
    return not get_user_model()._default_manager.exists()


def require_migrated() -> None:
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("The database has unapplied migrations: run `manage.py migrate` first.")


class Command(BaseCommand):
    help = (f"Load the demo city ({', '.join(DEMO_APPS)}) into an empty database; on one that holds users, "
            "print the demo's credentials again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Load even when the database is not empty (default: only into an empty one).")

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        # The demos print with print(file=stdout): give them the raw stream, not Django's line-ending wrapper.
        stream: TextIO = options.get("stdout") or sys.stdout
        if not settings.DEBUG:
            # The demo publishes its credentials (riders' passwords, the demo vehicle's IoT secret, the demo
            # agency's MDS token): they must never reach a production database.
            raise CommandError("demo_data loads published credentials and runs only with DEBUG=1.")
        require_migrated()
        if not force and not database_is_empty():
            self.stdout.write("Demo data: the database is not empty, nothing loaded (--force loads anyway).")
            self.summarise(stream)
            return
        loaders = demo_hooks("load")
        if not loaders:
            self.stdout.write("Demo data: no app has a demo.py yet, nothing to load.")
            return
        with transaction.atomic():
            for app, load in loaders:
                self.stdout.write(f"Demo data: {app}")
                stream.flush()
                load(stdout=stream)
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {', '.join(app for app, _ in loaders)}."))

    def summarise(self, stream: TextIO) -> None:
        """Each app's credentials again, from its summary(), or a pointer to --force for apps without one."""
        summaries = dict(demo_hooks("summary"))
        for app, _load in demo_hooks("load"):
            if app in summaries:
                summaries[app](stdout=stream)
            else:
                self.stdout.write(f"{app}: demo loaded earlier; `manage.py demo_data --force` prints its details again.")
