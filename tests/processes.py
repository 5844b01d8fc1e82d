"""Helpers for tests that start server processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_daphne(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A Daphne serving ``config.asgi`` with ``env`` on a free loopback port; returns it and its ``ws://`` base URL
    once it accepts connections (its stderr in the assertion if it died first). Stop it with ``stop``."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
                                "config.asgi:application"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"ws://127.0.0.1:{port}"
        except OSError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            time.sleep(0.1)
    stop(process)
    raise AssertionError("daphne did not accept connections within 30 s")


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds; always reaped."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
