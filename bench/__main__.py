"""``python -m bench NAME``: run ``bench/NAME.py`` ``main()``, print its figures as JSON on the last line."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bench
from bench import common

NOT_BENCHMARKS = {"common"}


def available() -> list[str]:
    path = [str(Path(bench.__file__).parent)]
    return sorted(
        m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS
    )


def run(name: str) -> dict[str, Any]:
    if name not in available():
        raise SystemExit(f"unknown benchmark {name!r}; available: {', '.join(available())}")
    common.setup_django()  # connects to nothing; a benchmark that needs a database uses common.django_database
    module = importlib.import_module(f"bench.{name}")
    figures = module.main()
    if not isinstance(figures, dict):
        raise TypeError(f"bench.{name}.main() returned {type(figures).__name__}, expected a dict of figures")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", help=f"one of: {', '.join(available())}")
    args = parser.parse_args(argv)
    try:
        figures = run(args.name)
    except Exception:
        traceback.print_exc()
        return 1
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
