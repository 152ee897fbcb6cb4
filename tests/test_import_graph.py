"""No import circles: the modules' import-time imports form no cycle.

The graph is read from the sources: imports a module runs when it is imported (module level, also
inside ``if``/``try``), not those inside functions or under ``if TYPE_CHECKING:``. Importing a
submodule also runs its package's ``__init__``; those edges are the package's own business and
are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "weightspace"

#: Known circles, each as the sorted tuple of its modules.
ALLOWED_CIRCLES: set[tuple[str, ...]] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _import_time_nodes(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                found += _import_time_nodes(node.body)
            found += _import_time_nodes(node.orelse)
        elif isinstance(node, ast.Try):
            found += _import_time_nodes(node.body)
            for handler in node.handlers:
                found += _import_time_nodes(handler.body)
            found += _import_time_nodes(node.orelse) + _import_time_nodes(node.finalbody)
    return found


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the modules of ``sources`` it imports when it is imported."""
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        targets = set()
        for node in _import_time_nodes(ast.parse(source).body):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in sources else base)
            else:
                targets.update(alias.name for alias in node.names)
        graph[module] = {t for t in targets if t in sources and t != module}
    return graph


def circles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), as sorted tuples."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    sources = {m: p.read_text(encoding="utf-8") for m, p in _modules().items()}
    unexpected = circles(import_graph(sources)) - ALLOWED_CIRCLES
    assert not unexpected, f"modules that import each other when imported: {sorted(unexpected)}"


def test_the_graph_sees_a_circle_and_ignores_lazy_and_typing_imports():
    sources = {
        "weightspace.a": "from weightspace.b import f\n",
        "weightspace.b": "import weightspace.c\n",
        "weightspace.c": "from weightspace import a\n",
        "weightspace.d": "def g():\n    from weightspace.a import f\n",
        "weightspace.e": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from weightspace.d import g\n",
    }
    sources["weightspace.a"] += "from weightspace.e import x\n"
    assert circles(import_graph(sources)) == {("weightspace.a", "weightspace.b", "weightspace.c")}
    sources["weightspace.d"] = "from weightspace.a import f\n"
    sources["weightspace.e"] = "from weightspace.d import g\n"
    assert circles(import_graph(sources)) == {
        ("weightspace.a", "weightspace.b", "weightspace.c", "weightspace.d", "weightspace.e")
    }
