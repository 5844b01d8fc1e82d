"""The README's configuration tables list exactly the environment variables the code reads, with the code's defaults.

The code is the reference: every call of a reader of config/env.py (``env_str("NAME", default)`` ...) in the
project's Python files, found by parsing them, so a variable added on any branch is checked without a hand list.
"""

from __future__ import annotations

import ast
import inspect
import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import env

ROOT = Path(__file__).resolve().parents[2]
# Not project code: the tests call the readers with made-up names; the rest are not sources.
SKIPPED_FOLDERS = {"tests", "node_modules", "staticfiles", "media", "build"}
READERS = {name: inspect.signature(func) for name, func in vars(env).items()
           if name.startswith("env_") and inspect.isfunction(func)}

# Variables whose default depends on another setting or on the environment, so the README states it in words
# (e.g. "`REDIS_URL`", "a dev key when `DEBUG` or testing") and the code's default is not a literal.
PROSE_DEFAULTS = {
    "SECRET_KEY",  # a development key with DEBUG or under pytest, else required
    "MEDIA_ROOT",  # <checkout>/media
    "CELERY_BROKER_URL",  # REDIS_URL
    "SECURE_COOKIES",  # on unless DEBUG or testing
    "SECURE_SSL_REDIRECT",  # BEHIND_TLS_PROXY
    "SECURE_HSTS_SECONDS",  # one year with BEHIND_TLS_PROXY, else 0
    "ALLOW_FAKE_SERVICES",  # empty, all fakes under pytest
    "BILLING_TESTPSP_WEBHOOK_SECRET",  # the public development secret with DEBUG or testing, else empty
    "ALERT_WEBHOOK_ALLOW_PRIVATE",  # DEBUG
}
REQUIRED = object()  # no default: start-up fails without the variable
NOT_LITERAL = object()  # a default computed from other settings
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


@dataclass(frozen=True)
class Read:
    name: str
    default: Any
    where: str


def _python_files() -> Iterator[Path]:
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        yield from (Path(folder) / f for f in sorted(files) if f.endswith(".py"))


def _literal(node: ast.expr) -> Any:
    """The value of a literal default (``10 * 1024 * 1024`` included), else ``NOT_LITERAL``."""
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _literal(node.left), _literal(node.right)
        if NOT_LITERAL in (left, right):
            return NOT_LITERAL
        return _ARITHMETIC[type(node.op)](left, right)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return NOT_LITERAL


def _argument(call: ast.Call, signature: inspect.Signature, parameter: str) -> ast.expr | None:
    position = list(signature.parameters).index(parameter)
    if len(call.args) > position:
        return call.args[position]
    return next((k.value for k in call.keywords if k.arg == parameter), None)


def code_reads() -> list[Read]:
    reads = []
    for path in _python_files():
        where = path.relative_to(ROOT)
        if where == Path(env.__file__).relative_to(ROOT):
            continue  # the readers calling one another
        for node in ast.walk(ast.parse(path.read_text(), str(where))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if func not in READERS:
                continue
            signature = READERS[func]
            name_node = _argument(node, signature, "name")
            name = signature.parameters["name"].default if name_node is None else _literal(name_node)
            assert isinstance(name, str), f"{where}:{node.lineno}: {func}() with a variable name the test cannot read"
            default_node = _argument(node, signature, "default") if "default" in signature.parameters else None
            if default_node is None:
                parameter = signature.parameters.get("default")
                default = REQUIRED if parameter is None or parameter.default in (None, inspect.Parameter.empty) \
                    else parameter.default
            else:
                default = _literal(default_node)
                default = REQUIRED if default is None else default
            reads.append(Read(name, default, f"{where}:{node.lineno}"))
    return reads


def readme_defaults() -> dict[str, str]:
    """Variable -> the Default cell of every row of the tables between the README's ENV-TABLE markers."""
    text = (ROOT / "README.md").read_text()
    block = text[text.index("<!-- ENV-TABLE"):text.index("<!-- /ENV-TABLE -->")]
    rows: dict[str, str] = {}
    for line in block.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        assert match, f"README row does not name one variable: {line}"
        assert match[1] not in rows, f"README lists {match[1]} twice"
        rows[match[1]] = cells[1]
    return rows


def _shown(value: Any) -> str:
    """A default as the README writes it (between backticks)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def test_the_readme_lists_exactly_the_variables_the_code_reads() -> None:
    read, documented = {r.name for r in code_reads()}, set(readme_defaults())
    assert read, "no env_* call found: the test no longer sees the code"
    assert sorted(read - documented) == [], "read by the code, missing from the README's configuration tables"
    assert sorted(documented - read) == [], "in the README's configuration tables, read by no env_* call"


def test_the_readme_defaults_are_the_codes() -> None:
    readme, wrong = readme_defaults(), []
    by_name: dict[str, list[Read]] = {}
    for r in code_reads():
        by_name.setdefault(r.name, []).append(r)
    for name, reads in sorted(by_name.items()):
        defaults = {repr(r.default) if r.default not in (REQUIRED, NOT_LITERAL) else r.default for r in reads}
        assert len(defaults) == 1, f"{name} is read with different defaults: {[r.where for r in reads]}"
        default, where, cell = reads[0].default, reads[0].where, readme.get(name)
        if cell is None:
            continue  # the other test names it
        if name in PROSE_DEFAULTS:
            assert default is NOT_LITERAL, f"{name} ({where}) has a literal default now: drop it from PROSE_DEFAULTS"
            continue
        assert default is not NOT_LITERAL, f"{name} ({where}): a computed default; add it to PROSE_DEFAULTS"
        if default is REQUIRED:
            ok = cell.startswith("required")
        elif _shown(default) == "":
            ok = cell.startswith("empty")
        else:
            ok = cell.startswith(f"`{_shown(default)}`")
        if not ok:
            wrong.append(f"{name}: README {cell!r}, code ({where}) {_shown(default) if default is not REQUIRED else 'required'!r}")
    assert wrong == []


def test_only_the_settings_module_reads_the_environment() -> None:
    """So that ``override_settings`` and the ``settings`` fixture reach every variable (no app reads its own)."""
    elsewhere = sorted({r.where for r in code_reads() if not r.where.startswith("config/settings.py:")})
    assert elsewhere == []
