"""The Daphne process (config.asgi) collects garbage less often than the defaults (core.gc.relax_thresholds)."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from core import gc as core_gc


@pytest.mark.slow
def test_the_asgi_process_uses_the_server_thresholds_and_the_wsgi_one_the_defaults():
    code = "import gc, config.{0}; print(*gc.get_threshold())"
    seen = {}
    for module in ("asgi", "wsgi"):
        done = subprocess.run([sys.executable, "-c", code.format(module)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        seen[module] = tuple(int(n) for n in done.stdout.split()[-3:])
    assert seen == {"asgi": core_gc.SERVER_THRESHOLDS, "wsgi": (700, 10, 10)}


def test_relax_thresholds_returns_the_old_ones():
    old = core_gc.relax_thresholds((5_000, 5, 5))
    try:
        assert gc.get_threshold() == (5_000, 5, 5)
    finally:
        assert core_gc.relax_thresholds(old) == (5_000, 5, 5)
    assert gc.get_threshold() == old
