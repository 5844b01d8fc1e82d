"""Run a command with PostgreSQL and Redis available.

``python -m config.devservices -- CMD ...``: when ``DATABASE_URL`` and ``REDIS_URL`` are both set, CMD runs
against them unchanged. Otherwise an embedded PostgreSQL and an embedded Valkey are started under
``.services/`` in the checkout, their URLs exported to CMD, and both stopped when CMD exits.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python -m config.devservices -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        return subprocess.call(argv, env=env)
    print("DATABASE_URL / REDIS_URL not set and embedded services are not available yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
