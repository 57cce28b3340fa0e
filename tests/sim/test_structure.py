"""The simulator's shape: no import cycle among its modules, no importlib, every route declared.

Imports are read from the source with `ast` (module level, inside functions, under
TYPE_CHECKING: all of them count), so a cycle hidden in a function body fails here too. The
sources are parsed when this module is imported (at collection): CPython 3.11.7 can fail with
"AST constructor recursion depth mismatch" when `ast.parse` runs late in a session that ran
msgraph-sdk coroutines (see tests/conftest.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import crisiskit.sim

SIM = Path(crisiskit.sim.__file__).parent
PACKAGE = "crisiskit.sim"


def _imports(source: str, name: str) -> set[str]:
    """Return the sim modules a source imports, by short name (`core`, `groups`, ...)."""
    modules = {p.stem for p in SIM.glob("*.py")}
    found: set[str] = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.split(".")[2])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x / from .x import y
                base = PACKAGE + ("." + base if base else "")
            if base == PACKAGE:
                found.update(a.name for a in node.names if a.name in modules)
            elif base.startswith(PACKAGE + "."):
                found.add(base.split(".")[2])
    return found & modules - {name}


def _uses_importlib(source: str) -> bool:
    tree = ast.parse(source)
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    return "importlib" in names or "__import__" in source


SOURCES = {p.stem: p.read_text() for p in sorted(SIM.glob("*.py"))}
GRAPH = {name: _imports(source, name) for name, source in SOURCES.items()}
IMPORTLIB = {name for name, source in SOURCES.items() if _uses_importlib(source)}
HIDDEN = _imports("def f():\n    from crisiskit.sim import core\n    return core\n", "x")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle as a path of module names, or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_a_function_level_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert HIDDEN == {"core"}  # an import inside a function body counts


def test_the_simulator_has_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle or [])


def test_shared_modules_import_no_endpoint_family():
    from crisiskit.sim.server import FAMILIES

    families = {f.__name__.rsplit(".", 1)[-1] for f in FAMILIES}
    graph = GRAPH
    # Everything but the families and the modules that assemble them (the server, the app,
    # the control API, seeding: `seed` and the workload kinds it hands to `seedworkloads`) is
    # shared, and imports no family.
    assembly = {"server", "app", "control", "seed", "seedworkloads", "__init__"}
    shared = set(graph) - families - assembly
    assert {"core", "errors", "router", "permissions", "cascade", "replication"} <= shared
    assert {"mailbox", "outlook", "teamcreate", "groupcreate", "driveitems", "blobs"} <= shared
    for name in sorted(shared):
        assert not graph[name] & families, f"{name} imports {sorted(graph[name] & families)}"
    # Families do not import each other: what they share lives in the shared modules.
    for family in families:
        assert not graph[family] & families, f"{family} imports {sorted(graph[family] & families)}"


def test_no_importlib_indirection_in_the_simulator():
    assert not IMPORTLIB
