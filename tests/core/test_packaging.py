"""What the installed package declares and ships: pins only for what is installed, no test or benchmark code."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_pin_is_a_distribution_the_dev_install_has():
    # constraints.txt is `make lock`'s pip freeze of `pip install -e '.[dev]'`: a pin of something not installed
    # there is one that nothing (ours or a dependency's) requires.
    pins = [line.split("==")[0] for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line]
    missing = []
    for pin in pins:
        try:
            metadata.version(pin)
        except metadata.PackageNotFoundError:
            missing.append(pin)
    assert missing == []


def test_test_only_libraries_are_dev_dependencies():
    runtime = {_name(r) for r in PROJECT["project"]["dependencies"]}
    assert "pyyaml" not in runtime  # only tests/core/test_commands.py reads YAML
    assert "pyyaml" in {_name(r) for r in PROJECT["project"]["optional-dependencies"]["dev"]}


def test_benchmarks_are_not_shipped_in_the_package():
    include = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(fnmatch(package, pattern) for pattern in include for package in ("bench", "bench.live", "tests"))
