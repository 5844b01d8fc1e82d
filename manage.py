#!/usr/bin/env python
"""Django's command line, which answers help and version without services.

``manage.py CMD --help``, ``manage.py help [CMD]``, ``manage.py --version``: the settings get stand-ins for what
only a real command needs (``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``); a real command still stops at start-up
without them, with the settings' message. The help of a Freewheel command is printed from its parser alone,
without ``django.setup()``: loading the apps imports every admin module (and through them the services), Daphne's
reactor and Celery, which is most of a command's start-up and none of which a parser needs. So Freewheel's command
modules import their app's code inside ``handle()`` (tests/core/test_command_help.py checks every command).
"""

import os
import sys
from importlib.util import find_spec
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
HELP_FLAGS = {"-h", "--help"}
HELP_STAND_INS = {
    "DATABASE_URL": "postgres://help.invalid/help",
    "REDIS_URL": "redis://help.invalid",
    "SECRET_KEY": "help-only-stand-in-never-signs-anything",
}


def asks_for_help(argv: list[str]) -> bool:
    """Help or version only: argparse prints and exits before a command runs (arguments after ``--`` are data)."""
    args = argv[1 : argv.index("--")] if "--" in argv else argv[1:]
    return not args or args[0] in {"help", "version", "--version"} or bool(HELP_FLAGS & set(args))


def use_help_stand_ins() -> None:
    for name, value in HELP_STAND_INS.items():
        if not os.environ.get(name) and not os.environ.get(f"{name}_FILE"):
            os.environ[name] = value


def project_command_help(argv: list[str]) -> bool:
    """Print the help of ``manage.py CMD --help`` / ``manage.py help CMD`` when CMD is a Freewheel command.

    Returns False (Django answers) for anything else, including a command of Django or of a library, or a Freewheel
    command that an app listed earlier in INSTALLED_APPS overrides (Django's own precedence).
    """
    args = argv[1:]
    if len(args) == 2 and args[0] == "help":
        name = args[1]
    elif len(args) == 2 and args[1] in HELP_FLAGS:
        name = args[0]
    else:
        return False
    from django.conf import settings

    for app in settings.INSTALLED_APPS:
        spec = find_spec(app)
        folders = spec.submodule_search_locations if spec else None
        if not folders:  # an AppConfig path or a module: leave it to Django
            return False
        if Path(folders[0], "management", "commands", f"{name}.py").is_file():
            break
    else:
        return False
    if Path(folders[0]).resolve().parent != BASE_DIR:  # not an app of this checkout (.venv is in it too)
        return False
    from django.core.management import load_command_class

    load_command_class(app, name).print_help(Path(argv[0]).name, name)
    return True


if __name__ == "__main__":
    if sys.version_info < (3, 12):
        sys.exit(f"Freewheel needs Python 3.12 or newer, this is {sys.version.split()[0]}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["runserver"]:
        # Daphne's runserver (make run) serves config.asgi, but loads the settings before it: an ASGI process too.
        os.environ.setdefault("ASGI_SERVER", "1")
    if asks_for_help(sys.argv):
        use_help_stand_ins()
        if project_command_help(sys.argv):
            sys.exit(0)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
