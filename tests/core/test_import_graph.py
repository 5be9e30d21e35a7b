"""No import circle in ``src/advlab``: data flows one way.

Every module is parsed with :mod:`ast` (nothing is imported). An edge ``a -> b`` is any
``import b`` / ``from b import ...`` in ``a`` -- at module level, under ``TYPE_CHECKING``
or inside a function (lazy imports count: they only postpone the circle) -- and any
``importlib.import_module("b")`` call with a literal name. ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg``. Importing ``a.b.c`` also
imports the packages ``a`` and ``a.b``, but those implicit parent edges are left out: a
package's ``__init__`` re-exporting its children is not a circle of the code's own making.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(src: Path = SRC) -> dict[str, Path]:
    return {module_name(p, src): p for p in sorted(src.joinpath("advlab").rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` names or lies inside."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(mod: str, path: Path, known: dict[str, Path]) -> set[str]:
    """advlab modules that ``mod`` imports, anywhere in its body."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = mod if is_pkg else mod.rpartition(".")[0]
                for _ in range(node.level - 1):
                    pkg = pkg.rpartition(".")[0]
                base = f"{pkg}.{base}" if base else pkg
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        for t in targets:
            r = _resolve(t, known)
            if r is not None and r != mod:
                out.add(r)
    return out


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    known = modules(src)
    return {m: imports_of(m, p, known) for m, p in known.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return [_one_cycle(graph, set(c)) for c in comps]


def _one_cycle(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest circle through the component's first module (breadth-first)."""
    start = min(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)  # pragma: no cover - a component always holds a circle


def test_no_import_cycle_in_src() -> None:
    cycles = find_cycles(import_graph())
    text = "\n".join(" -> ".join(c) + f"   ({len(c) - 1} modules)" for c in cycles)
    assert not cycles, f"import circles in src/advlab:\n{text}"


def test_the_graph_sees_lazy_and_importlib_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "advlab"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from advlab.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "import importlib\n\ndef g():\n    return importlib.import_module('advlab.c')\n"
    )
    (pkg / "c.py").write_text("from .a import f\n")
    (pkg / "d.py").write_text("from advlab import c\nfrom .sub.b import g\n")
    graph = import_graph(tmp_path)
    assert graph["advlab.a"] == {"advlab.sub.b"}
    assert graph["advlab.sub.b"] == {"advlab.c"}
    assert graph["advlab.c"] == {"advlab.a"}
    assert graph["advlab.d"] == {"advlab.c", "advlab.sub.b"}
    cycles = find_cycles(graph)
    assert cycles == [["advlab.a", "advlab.sub.b", "advlab.c", "advlab.a"]]
    (pkg / "c.py").write_text("X = 1\n")
    assert find_cycles(import_graph(tmp_path)) == []
