"""Freewheel's management commands explain themselves: every option has help text with its default, and
``--help`` answers without PostgreSQL or Redis and without loading the apps (manage.py). A real command still
refuses to start without DATABASE_URL."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = ("core", "accounts", "fleet", "billing", "rides", "telemetry", "live", "feeds", "console")
COMMANDS = sorted((name, app) for name, app in get_commands().items() if app in PROJECT_APPS)
# Help must not depend on the caller's configuration or services.
UNSET = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE")


def test_the_project_commands_are_found():
    found = {p.stem for p in ROOT.glob("*/management/commands/*.py") if p.stem != "__init__"}
    assert {name for name, _ in COMMANDS} == found


def _project_options(name: str, app: str) -> list[argparse.Action]:
    parser = load_command_class(app, name).create_parser("manage.py", name)
    base = {action.dest for action in BaseCommand().create_parser("manage.py", "base")._actions}
    return [action for action in parser._actions if action.dest not in base]


@pytest.mark.parametrize(("name", "app"), COMMANDS)
def test_every_option_says_what_it_does_and_its_default(name, app):
    for action in _project_options(name, app):
        assert action.help, f"{name} {action.dest}: no help text"
        if action.option_strings and action.nargs != 0 and action.default is not None:
            assert "%(default)s" in action.help, f"{name} {action.option_strings[0]}: default not shown"
        if action.option_strings and action.default is None:
            assert "default" in action.help, f"{name} {action.option_strings[0]}: what happens without it?"


def _manage(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in UNSET} | extra
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


_PROBE = """
import json, sys
import manage
from django.apps import apps
manage.use_help_stand_ins()
answered = {name: manage.project_command_help(["manage.py", name, "--help"]) for name in sys.argv[1:]}
print(json.dumps({"answered": answered, "apps_loaded": apps.ready,
                  "models": sorted(m for m in sys.modules if m.endswith(".models"))}))
"""


@pytest.mark.slow
def test_help_of_every_project_command_is_printed_without_loading_the_apps():
    env = {k: v for k, v in os.environ.items() if k not in UNSET} | {"DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", _PROBE, *(name for name, _ in COMMANDS)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["answered"] == {name: True for name, _ in COMMANDS}
    assert report["apps_loaded"] is False
    assert [m for m in report["models"] if m.split(".")[0] in PROJECT_APPS] == []


def test_django_s_own_commands_are_left_to_django():
    import manage

    assert manage.project_command_help(["manage.py", "migrate", "--help"]) is False
    assert manage.project_command_help(["manage.py", "runserver", "--help"]) is False  # daphne's
    assert manage.project_command_help(["manage.py", "demo_data", "--force"]) is False


@pytest.mark.parametrize(
    ("argv", "asks"),
    [
        (["manage.py"], True),
        (["manage.py", "help"], True),
        (["manage.py", "--version"], True),
        (["manage.py", "demo_data", "-h"], True),
        (["manage.py", "simulate_fleet", "--vehicles", "3", "--help"], True),
        (["manage.py", "demo_data"], False),
        (["manage.py", "migrate", "--plan"], False),
        (["manage.py", "dbshell", "--", "--help"], False),  # psql's argument, not ours
    ],
)
def test_what_counts_as_asking_for_help(argv, asks):
    import manage

    assert manage.asks_for_help(argv) is asks


@pytest.mark.slow
@pytest.mark.parametrize(("name", "app"), COMMANDS)
def test_help_works_without_services(name, app):
    result = _manage(name, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: manage.py {name}")


@pytest.mark.slow
@pytest.mark.parametrize("args", [("help", "demo_data"), ("migrate", "--help"), ("help",), ("--version",)])
def test_django_s_help_works_without_services(args):
    result = _manage(*args)
    assert (result.returncode, "Traceback" in result.stderr) == (0, False), result.stderr
    assert result.stdout


@pytest.mark.slow
def test_a_real_command_still_refuses_to_run_without_database_url():
    result = _manage("telemetry_status", DEBUG="1")
    assert result.returncode != 0
    assert result.stderr.strip().endswith("ImproperlyConfigured: DATABASE_URL is required but not set")
