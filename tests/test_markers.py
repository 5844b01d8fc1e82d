"""Every test that starts a process carries the ``slow`` marker, so that ``pytest -m "not slow"`` is the quick run.

A static check over the test sources (no test is run): a test starts a process when its body, a fixture it asks
for, or a function of the test modules it calls, calls ``subprocess``, ``multiprocessing``, ``os.fork``/``os.system``
/``os.exec*``/``os.spawn*`` or ``asyncio.create_subprocess_*``. Such a test is marked ``slow`` by a decorator, by its
class's ``pytestmark`` or by its module's ``pytestmark``. What application code the test calls is not followed: a
test that starts a process only through the application (e.g. ``config.devservices``) is marked by hand.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

PROCESS_MODULES = {"subprocess", "multiprocessing"}
PROCESS_CALLS = {"os.fork", "os.forkpty", "os.system", "os.popen", "os.posix_spawn", "os.posix_spawnp",
                 "asyncio.create_subprocess_exec", "asyncio.create_subprocess_shell"}
PROCESS_PREFIXES = ("os.exec", "os.spawn")


@dataclass
class Module:
    name: str  # dotted, e.g. tests.core.test_settings
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)  # local name -> dotted origin
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    fixtures: set[str] = field(default_factory=set)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _resolve(module: Module, dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    origin = module.imports.get(head)
    if origin is None:
        return dotted
    return f"{origin}.{rest}" if rest else origin


def _starts_a_process(name: str) -> bool:
    return (name.split(".")[0] in PROCESS_MODULES or name in PROCESS_CALLS
            or name.startswith(PROCESS_PREFIXES))


def _is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return _dotted(target) in {"pytest.fixture", "fixture"}


def _marks(decorators: list[ast.expr]) -> set[str]:
    """``slow`` for ``@pytest.mark.slow``; ``usefixtures:<name>`` for ``@pytest.mark.usefixtures("name")``."""
    found: set[str] = set()
    for decorator in decorators:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        dotted = _dotted(target) or ""
        if dotted.endswith("mark.slow"):
            found.add("slow")
        if dotted.endswith("mark.usefixtures") and isinstance(decorator, ast.Call):
            found |= {f"usefixtures:{arg.value}" for arg in decorator.args
                      if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return found


def _pytestmark_is_slow(body: list[ast.stmt]) -> bool:
    for statement in body:
        if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in statement.targets):
            marks = statement.value.elts if isinstance(statement.value, ast.List | ast.Tuple) else [statement.value]
            return "slow" in _marks(list(marks))
    return False


def parse(name: str, source: str) -> Module:
    module = Module(name=name, tree=ast.parse(source))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                module.imports[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else \
                    alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = node
            if any(_is_fixture(d) for d in node.decorator_list):
                module.fixtures.add(node.name)
    return module


def _arguments(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in (*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs)]


def _spawning(modules: dict[str, Module], conftests: dict[str, list[str]]) -> set[tuple[str, str]]:
    """(module, function) pairs that start a process, directly or through what they call or ask for."""
    spawning: set[tuple[str, str]] = set()
    for module in modules.values():
        for name, function in module.functions.items():
            calls = (_dotted(n.func) for n in ast.walk(function) if isinstance(n, ast.Call))
            if any(c and _starts_a_process(_resolve(module, c)) for c in calls):
                spawning.add((module.name, name))
    changed = True
    while changed:
        changed = False
        for module in modules.values():
            for name, function in module.functions.items():
                if (module.name, name) in spawning:
                    continue
                used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
                if any(_depends_on(modules, conftests, module, used_name, spawning, as_fixture=False)
                       for used_name in used) or any(
                        _depends_on(modules, conftests, module, arg, spawning, as_fixture=True)
                        for arg in _arguments(function)):
                    spawning.add((module.name, name))
                    changed = True
    return spawning


def _depends_on(modules: dict[str, Module], conftests: dict[str, list[str]], module: Module, name: str,
                spawning: set[tuple[str, str]], *, as_fixture: bool) -> bool:
    if as_fixture:  # a fixture of this module or of a conftest.py above it
        return any(name in modules[owner].fixtures and (owner, name) in spawning
                   for owner in [module.name, *conftests.get(module.name, [])] if owner in modules)
    if name in module.functions:
        return (module.name, name) in spawning
    origin = module.imports.get(name, "")
    owner, _, attribute = origin.rpartition(".")
    return owner in modules and (owner, attribute) in spawning


def unmarked(sources: dict[str, str]) -> list[str]:
    """``module::test`` of every test that starts a process without the ``slow`` marker."""
    modules = {name: parse(name, source) for name, source in sources.items()}
    conftests = {name: [c for c in modules if c.endswith(".conftest") and name.startswith(c.rsplit(".", 1)[0] + ".")]
                 for name in modules}
    spawning = _spawning(modules, conftests)
    found = []
    for module in modules.values():
        module_slow = _pytestmark_is_slow(module.tree.body)
        candidates: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]] = [
            (name, function, module_slow) for name, function in module.functions.items()]
        for node in module.tree.body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                class_slow = module_slow or _pytestmark_is_slow(node.body) or "slow" in _marks(node.decorator_list)
                candidates += [(f"{node.name}::{f.name}", f, class_slow) for f in node.body
                               if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
        for name, function, inherited in candidates:
            if not function.name.startswith("test") or inherited:
                continue
            marks = _marks(function.decorator_list)
            if "slow" in marks:
                continue
            asked = [*_arguments(function), *(m.split(":", 1)[1] for m in marks if m.startswith("usefixtures:"))]
            calls = (_dotted(n.func) for n in ast.walk(function) if isinstance(n, ast.Call))
            used = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
            if (any(c and _starts_a_process(_resolve(module, c)) for c in calls)
                    or any(_depends_on(modules, conftests, module, u, spawning, as_fixture=False) for u in used)
                    or any(_depends_on(modules, conftests, module, a, spawning, as_fixture=True) for a in asked)):
                found.append(f"{module.name}::{name}")
    return sorted(found)


def _test_sources() -> dict[str, str]:
    return {".".join(path.relative_to(ROOT).with_suffix("").parts): path.read_text()
            for path in sorted(TESTS.rglob("*.py"))}


def test_every_test_that_starts_a_process_is_marked_slow() -> None:
    offenders = unmarked(_test_sources())
    assert offenders == [], "these tests start a process; mark them @pytest.mark.slow:\n" + "\n".join(offenders)


def _one(source: str, **more: str) -> list[str]:
    return unmarked({"tests.x.test_it": textwrap.dedent(source), **{k: textwrap.dedent(v) for k, v in more.items()}})


@pytest.mark.parametrize("source", [
    "import subprocess\ndef test_a():\n    subprocess.run(['true'])\n",
    "from subprocess import Popen as P\ndef test_a():\n    P(['true'])\n",
    "import sys, subprocess\ndef _run():\n    return subprocess.run([sys.executable])\n"
    "def _twice():\n    _run()\ndef test_a():\n    _twice()\n",
    "import pytest, subprocess\n@pytest.fixture\ndef server():\n    p = subprocess.Popen(['x'])\n    yield p\n"
    "def test_a(server):\n    pass\n",
    "import pytest, multiprocessing\n@pytest.fixture\ndef server():\n    yield multiprocessing.Process()\n"
    "@pytest.mark.usefixtures('server')\ndef test_a():\n    pass\n",
    "import os\nclass TestA:\n    def test_a(self):\n        os.execv('x', [])\n",
    "import asyncio\nasync def test_a():\n    await asyncio.create_subprocess_exec('x')\n",
])
def test_a_test_that_starts_a_process_without_the_marker_is_found(source: str) -> None:
    assert _one(source) in (["tests.x.test_it::test_a"], ["tests.x.test_it::TestA::test_a"])


def test_fixtures_of_a_conftest_and_helpers_of_another_test_module_are_followed() -> None:
    conftest = "import pytest, subprocess\n@pytest.fixture\ndef worker():\n    yield subprocess.Popen(['x'])\n"
    helpers = "import subprocess\ndef start():\n    return subprocess.Popen(['x'])\n"
    source = "from tests.helpers import start\ndef test_a(worker):\n    pass\ndef test_b():\n    start()\n"
    found = _one(source, **{"tests.conftest": conftest, "tests.helpers": helpers})
    assert found == ["tests.x.test_it::test_a", "tests.x.test_it::test_b"]


@pytest.mark.parametrize("source", [
    "import pytest, subprocess\n@pytest.mark.slow\ndef test_a():\n    subprocess.run(['true'])\n",
    "import pytest, subprocess\n@pytest.mark.slow\n@pytest.mark.parametrize('x', [1])\n"
    "def test_a(x):\n    subprocess.run(['true'])\n",
    "import pytest, subprocess\npytestmark = [pytest.mark.slow, pytest.mark.django_db]\n"
    "def test_a():\n    subprocess.run(['true'])\n",
    "import pytest, subprocess\nclass TestA:\n    pytestmark = pytest.mark.slow\n"
    "    def test_a(self):\n        subprocess.run(['true'])\n",
    "import subprocess\ndef test_a():\n    assert subprocess.PIPE\n    x: subprocess.Popen[str]\n",
    "import sys\ndef test_a():\n    assert sys.executable\n",
])
def test_marked_tests_and_tests_that_start_nothing_pass(source: str) -> None:
    assert _one(source) == []
