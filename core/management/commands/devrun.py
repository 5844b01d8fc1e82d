"""``manage.py devrun``: the development platform in one terminal.

Migrates, loads the demo on an empty database, prints where things are, then replaces itself with honcho running
``Procfile.dev`` (web server, Celery worker, Celery beat) in one prefixed log stream. Ctrl-C stops all three.
``make run`` calls it under ``config.devservices``, which provides PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

PROCFILE = "Procfile.dev"


def state_dir() -> Path:
    """Where Celery beat keeps its schedule: the git-ignored services folder of the checkout."""
    path = Path(os.environ.get("FREEWHEEL_SERVICES_DIR") or settings.BASE_DIR / ".services")
    path.mkdir(parents=True, exist_ok=True)
    return path


def honcho_argv() -> list[str]:
    return [sys.executable, "-m", "honcho", "--app-root", str(settings.BASE_DIR), "--procfile", PROCFILE,
            "--env", os.devnull, "start"]


def honcho_env(*, host: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    # Procfile.dev calls `python` and `celery`: the ones of this virtualenv, activated or not.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(DEVRUN_ADDR=f"{host}:{port}", DEVRUN_STATE_DIR=str(state_dir()), PYTHONUNBUFFERED="1")
    return env


class Command(BaseCommand):
    help = "Development: migrate, load the demo if the database is empty, serve web + Celery worker + beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address of the web server (default: %(default)s).")
        parser.add_argument("--port", type=int, default=8000, help="Port of the web server (default: %(default)s).")
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo data (default: load it into an empty database).")

    def handle(self, *args: Any, host: str, port: int, no_demo: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=1)
        if not no_demo:
            call_command("demo_data")
        self.stdout.write(self.banner(host=host, port=port))
        sys.stdout.flush()
        connections.close_all()
        os.execve(sys.executable, honcho_argv(), honcho_env(host=host, port=port))  # noqa: S606  (argv, no shell)

    def banner(self, *, host: str, port: int) -> str:
        base = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"  # noqa: S104
        lines = [
            "",
            "Freewheel is starting (web server, Celery worker, Celery beat). Ctrl-C stops everything.",
            f"  API docs (Swagger UI)  {base}/api/docs/    OpenAPI schema {base}/api/schema/",
            f"  Admin                  {base}/admin/",
            f"  Health                 {base}/healthz   {base}/readyz   {base}/metrics",
            f"  WebSockets             ws://{base.removeprefix('http://')}/ws/",
            "  Demo credentials: see the demo data output above (`manage.py demo_data --force` prints it again).",
            "",
        ]
        return "\n".join(lines)
