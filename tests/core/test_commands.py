"""manage.py demo_data and manage.py devrun."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from honcho.environ import parse_procfile

from config import env
from core.management.commands import demo_data, devrun
from tests.accounts.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]

FAKE_DEMOS = {
    "fw_demo_one": (
        "from tests.accounts.factories import UserFactory\n"
        "def load(*, stdout):\n"
        "    UserFactory(email='one@demo.example')\n"
        "    print('one: rider one@demo.example', file=stdout)\n"
        "def summary(*, stdout):\n"
        "    print('one: summary', file=stdout)\n"
    ),
    "fw_demo_two": "def load(*, stdout):\n    print('two: loaded', file=stdout)\n",
    "fw_demo_broken": "def load(*, stdout):\n    raise RuntimeError('demo broke')\n",
    "fw_demo_none": None,  # an app without demo.py
}


@pytest.fixture(scope="module")
def fake_apps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake_apps")
    for package, source in FAKE_DEMOS.items():
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
        if source is not None:
            (root / package / "demo.py").write_text(source)
    return root


@pytest.fixture
def fake_apps(monkeypatch, fake_apps_dir):
    monkeypatch.syspath_prepend(str(fake_apps_dir))

    def use(*names: str) -> None:
        monkeypatch.setattr(demo_data, "DEMO_APPS", names)

    return use


@pytest.fixture(autouse=True)
def _debug_on(settings):
    settings.DEBUG = True  # demo_data runs only with DEBUG on (pytest-django turns it off)


def _demo_data(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_loads_each_demo_in_order_and_skips_apps_without_one(fake_apps):
    fake_apps("fw_demo_two", "fw_demo_none", "fw_demo_one")
    out = _demo_data()
    assert out.index("two: loaded") < out.index("one: rider one@demo.example")
    assert "fw_demo_none" not in out
    assert "Demo data loaded: fw_demo_two, fw_demo_one." in out
    assert get_user_model().objects.filter(email="one@demo.example").exists()


@pytest.mark.django_db
def test_a_database_with_users_is_left_alone_and_summaries_are_printed(fake_apps):
    fake_apps("fw_demo_one", "fw_demo_two")
    UserFactory()
    out = _demo_data()
    assert "nothing loaded" in out and "one: summary" in out
    assert "fw_demo_two: demo loaded earlier; `manage.py demo_data --force` prints its details again." in out
    assert "two: loaded" not in out
    assert not get_user_model().objects.filter(email="one@demo.example").exists()


@pytest.mark.django_db
def test_force_loads_into_a_database_that_has_data(fake_apps):
    fake_apps("fw_demo_one")
    UserFactory()
    assert "one: rider" in _demo_data("--force")
    assert get_user_model().objects.filter(email="one@demo.example").exists()


@pytest.mark.django_db
def test_refused_with_debug_off_and_nothing_loaded(fake_apps, settings):
    fake_apps("fw_demo_one")
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG=1"):
        _demo_data()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_a_failing_demo_leaves_nothing_behind(fake_apps):
    fake_apps("fw_demo_one", "fw_demo_broken")
    with pytest.raises(RuntimeError, match="demo broke"):
        _demo_data()
    assert not get_user_model().objects.exists()  # fw_demo_one's rider was rolled back with the rest


@pytest.mark.django_db
def test_no_demo_anywhere_says_so(fake_apps):
    fake_apps("fw_demo_none")
    assert "no app has a demo.py yet" in _demo_data()


@pytest.mark.django_db
def test_unapplied_migrations_are_refused_not_applied(monkeypatch):
    pending = [(object(), False)]
    monkeypatch.setattr(demo_data.MigrationExecutor, "migration_plan", lambda self, targets: pending)
    with pytest.raises(CommandError, match="run `manage.py migrate` first"):
        call_command("demo_data", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_real_demos_load_and_load_again():
    """The contract of every <app>/demo.py: it loads into an empty database and is safe to run again."""
    first = _demo_data()
    second = _demo_data("--force")
    assert "Demo data" in first and "Demo data" in second


def test_procfile_dev_runs_web_worker_and_beat():
    processes = parse_procfile((ROOT / devrun.PROCFILE).read_text()).processes
    assert set(processes) == {"web", "worker", "telemetry", "mqtt", "simulator", "beat"}
    assert "-Q telemetry" in processes["telemetry"]
    assert "telemetry_mqtt" in processes["mqtt"] and "simulate_fleet" in processes["simulator"]
    assert "runserver $DEVRUN_ADDR" in processes["web"]
    assert "worker" in processes["worker"] and "beat" in processes["beat"]
    assert "$DEVRUN_STATE_DIR/celerybeat-schedule" in processes["beat"]


def test_devrun_runs_this_virtualenv_s_tools(tmp_path, monkeypatch):
    monkeypatch.setenv("FREEWHEEL_SERVICES_DIR", str(tmp_path / "state"))
    env = devrun.honcho_env(host="127.0.0.1", port=8123)
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["DEVRUN_ADDR"] == "127.0.0.1:8123"
    assert env["DEVRUN_STATE_DIR"] == str(tmp_path / "state") and (tmp_path / "state").is_dir()
    assert devrun.honcho_argv()[1:3] == ["-m", "honcho"]


# --- devrun end to end: web + worker + beat on the test database, then Ctrl-C ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (a local http URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "devrun exited before serving"
        try:
            if _get(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_devrun_serves_the_platform_and_ctrl_c_stops_everything(tmp_path):
    port = _free_port()
    environ = {**os.environ, "DATABASE_URL": env.database_url(settings.DATABASES["default"]),
               "FREEWHEEL_SERVICES_DIR": str(tmp_path), "DEBUG": "1"}
    log = (tmp_path / "devrun.log").open("wb")
    proc = subprocess.Popen([sys.executable, "manage.py", "devrun", "--port", str(port)], cwd=ROOT, env=environ,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(f"{base}/healthz", proc)
        assert [_get(f"{base}{path}") for path in ("/readyz", "/api/docs/", "/admin/login/")] == [200, 200, 200]
        tree = [proc, *psutil.Process(proc.pid).children(recursive=True)]
        assert len(tree) >= 4  # honcho, web, worker (+ its pool), beat
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "devrun.log").read_text()
    assert "API docs (Swagger UI)" in output and "web.1" in output and "worker.1" in output and "beat.1" in output
    _, alive = psutil.wait_procs([p for p in tree if p.pid != proc.pid], timeout=15)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert (tmp_path / "celerybeat-schedule").exists() or any(tmp_path.glob("celerybeat-schedule*"))


# --- production topology: Procfile and docker-compose.yml (no Docker engine here: shape and settings only) --

APP_SERVICES = ("migrate", "api", "ws", "worker", "telemetry", "mqtt", "beat")


def _compose() -> dict:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def _interpolate(value: str, **supplied: str) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} / ${VAR?error}: the default, or a value a deployer supplies."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: supplied.get(m.group(1), m.group(2)), value)
    return re.sub(r"\$\{(\w+):?\?[^}]*\}", lambda m: supplied[m.group(1)], value)


def test_compose_describes_the_production_topology():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "mosquitto", "proxy", *APP_SERVICES}
    assert "granian --interface wsgi" in " ".join(services["api"]["command"])
    assert "config.wsgi:application" in " ".join(services["api"]["command"])
    assert services["ws"]["command"][0] == "daphne" and "config.asgi:application" in services["ws"]["command"]
    caddyfile = _compose()["configs"]["caddyfile"]["content"]
    assert re.search(r"handle /ws/\* \{\s*reverse_proxy ws:8001", caddyfile)
    assert re.search(r"handle \{\s*reverse_proxy api:8000", caddyfile)
    for name in APP_SERVICES:
        assert services[name]["build"] == "." and (ROOT / "Dockerfile").exists()
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= set(services[name]["environment"])


def test_compose_trusts_exactly_its_one_proxy():
    """Caddy is the only proxy in front of api and ws: the client is the right-most X-Forwarded-For entry."""
    services = _compose()["services"]
    for name in ("api", "ws"):
        assert _interpolate(str(services[name]["environment"]["TRUSTED_PROXY_COUNT"])) == "1"
    assert services["proxy"]["image"].startswith("caddy:2")  # Caddy >= 2.5 replaces a client's own X-Forwarded-For


def _compose_check(**supplied: str) -> subprocess.CompletedProcess[str]:
    supplied = {"SECRET_KEY": "compose-check-secret-key-0123456789-abcdefghij", **supplied}
    environment = {k: _interpolate(str(v), **supplied) for k, v in _compose()["services"]["api"]["environment"].items()}
    child_env = {"PATH": os.environ["PATH"], **environment}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT,
                          env=child_env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_settings_load_with_the_compose_environment():
    """A try-out names the fakes it runs on; left empty (production), the fake defaults refuse to start."""
    out = _compose_check(ALLOW_FAKE_SERVICES="testpsp,gateway,sms,push,email",
                         BILLING_TESTPSP_WEBHOOK_SECRET="whsec_compose_0123456789")
    assert out.returncode == 0, out.stderr
    out = _compose_check(ALLOW_FAKE_SERVICES="")
    assert out.returncode != 0 and "freewheel.E001" in out.stderr


def test_procfile_serves_http_with_granian_and_websockets_with_daphne():
    processes = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert set(processes) == {"release", "web", "ws", "worker", "telemetry", "mqtt", "beat"}
    assert "granian --interface wsgi" in processes["web"] and "config.wsgi:application" in processes["web"]
    assert "daphne" in processes["ws"] and "config.asgi:application" in processes["ws"]
