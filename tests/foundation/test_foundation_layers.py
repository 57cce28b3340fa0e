"""The architecture's rules, checked on the source: what each layer may and may not touch.

- only the CLI (and the simulator itself) imports the simulator: `--sandbox` is wiring;
- the core reads no environment variable: the CLI does, and passes values in;
- no SQL outside `crisiskit.state`: a second backend replaces one package;
- waits and deadlines of the engine, resources, plans and the Graph door go through the
  clock seam, never straight to `time` / `asyncio.sleep` / `datetime.now`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "crisiskit"
CORE = ["engine", "plan", "resources", "graph", "state", "documents", "inventory", "exercise"]
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
    r"|PRAGMA\s)",
    re.DOTALL,
)


def _modules(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((SRC / package).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


@pytest.mark.parametrize("package", CORE)
def test_the_core_never_imports_the_simulator(package: str) -> None:
    found = [
        f"{path.relative_to(SRC)}:{line}: {name}"
        for path in _modules(package)
        for line, name in _imports(_tree(path))
        if name == "crisiskit.sim" or name.startswith("crisiskit.sim.")
    ]
    assert found == []


@pytest.mark.parametrize("package", ["engine", "plan", "resources", "graph", "state", "documents",
                                     "exercise"])
def test_the_core_reads_no_environment_variable(package: str) -> None:
    found = []
    for path in _modules(package):
        tree = _tree(path)
        for node in ast.walk(tree):
            reads = (
                isinstance(node, ast.Attribute)
                and node.attr in ("environ", "environb", "getenv", "getenvb")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            )
            if reads:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
        found += [
            f"{path.relative_to(SRC)}:{line}: {name}"
            for line, name in _imports(tree)
            if name in ("os.environ", "os.getenv", "os.environb")
        ]
    assert found == []


def test_no_sql_outside_the_state_package() -> None:
    found = []
    for path in SRC.rglob("*.py"):
        if (SRC / "state") in path.parents:
            continue
        tree = _tree(path)
        for line, name in _imports(tree):
            if name.split(".")[0] in ("sqlite3", "psycopg", "psycopg2", "sqlalchemy"):
                found.append(f"{path.relative_to(SRC)}:{line}: import {name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    found.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value[:60]!r}")
    assert found == []


def test_the_sql_detector_sees_the_state_packages_sql() -> None:
    assert SQL.search("SELECT graph_id FROM objects WHERE commune = ?")
    assert not SQL.search("DELETE /users/{id}: soft delete, select the user from the list")
    in_state = [
        node.value
        for path in _modules("state")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]
    assert len(in_state) >= 10


FORBIDDEN_CALLS = {("time", "monotonic"), ("time", "time"), ("time", "sleep"),
                   ("asyncio", "sleep"), ("datetime", "now"), ("datetime", "utcnow")}


@pytest.mark.parametrize("package", ["engine", "plan", "resources", "graph", "exercise"])
def test_waits_and_deadlines_go_through_the_clock(package: str) -> None:
    found = []
    for path in _modules(package):
        for node in ast.walk(_tree(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in FORBIDDEN_CALLS
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: "
                             f"{node.func.value.id}.{node.func.attr}()")
    assert found == []
