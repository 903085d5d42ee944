"""The package's modules import each other without a cycle (issue 20, item 6).

Every ``from .x import`` / ``from ..x import`` (module level or inside a function) is
an edge; the graph over ``infoflow_core``'s modules must be acyclic.
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "infoflow_core"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _edges() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                candidates = [target] + [f"{target}.{a.name}" for a in node.names]
                for t in candidates:
                    if t in modules and t != name and not name.startswith(t + "."):
                        graph[name].add(t)
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return stack[stack.index(v):] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        state[u] = 2
        stack.pop()
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_graph_sees_known_edges():
    graph = _edges()
    assert "infoflow_core._strata" in graph["infoflow_core.entropy"]
    assert "infoflow_core._strata" in graph["infoflow_core._distributed"]
    assert "infoflow_core._kernels" in graph["infoflow_core.entropy"]


def test_no_import_cycle_between_modules():
    assert _cycle(_edges()) is None


def test_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
