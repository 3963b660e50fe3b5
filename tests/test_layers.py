"""The layers of DESIGN.md §2, as the import graph shows them.

A module may import only from its own layer and the layers below it:

    arch (GICv2 facts)  <  core (the state)  <  formats, abi, statediff  <  views  <  inputs, cli

`errors`, `limits` and `files` sit below everything; a view never imports another view; and no
import circle exists, counting imports made inside functions. No module is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gicmig"

# layer of each top-level part of the package; a module may import lower or equal layers
LAYERS = {
    "errors": 0, "files": 0, "limits": 0, "v1": 0,
    "arch": 1,
    "core": 2,
    "formats": 3, "abi": 3, "statediff": 3, "schemacheck": 3,
    "views": 4, "html": 4, "pytest_plugin": 4,
    "inputs": 5, "cli": 6, "__main__": 6, "__init__": 6,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name.endswith("_pb2.py"):
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        graph[name] = {t for t in targets if t in modules and t not in (name, "gicmig")}
    return graph


MODULES = _modules()
GRAPH = _imports(MODULES)


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def _view(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "views" else None


def test_every_part_of_the_package_has_a_layer() -> None:
    assert {_part(m) for m in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module: str) -> None:
    mine = LAYERS[_part(module)]
    upward = sorted(t for t in GRAPH[module] if LAYERS[_part(t)] > mine)
    assert not upward, f"{module} (layer {mine}) imports a higher layer: {upward}"


def test_every_import_is_absolute() -> None:
    """The graph reads absolute imports only; a relative one would be an edge it misses."""
    relative = sorted(f"{name}:{node.lineno}" for name, path in MODULES.items()
                      for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.ImportFrom) and node.level)
    assert not relative, f"relative imports: {relative}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _view(m)))
def test_a_view_never_imports_another_view(module: str) -> None:
    others = sorted(t for t in GRAPH[module] if _view(t) not in (None, _view(module)))
    assert not others, f"{module} imports another view: {others}"


def test_no_import_circle() -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_no_subpackage_shadows_a_public_name() -> None:
    # importing gicmig.X binds X on the package: a subpackage named like a public function
    # (a `gicmig/diff/` beside `gicmig.diff()`) would replace the function once imported
    import gicmig

    parts = {_part(m) for m in MODULES}
    assert not parts & set(gicmig.__all__)


def test_the_format_layer_does_not_depend_on_the_schema_check_tooling() -> None:
    """The codec reads older revisions through `formats.locked`/`formats.revisions`; the
    tooling (`schemacheck`) builds on them, never the other way round."""
    reaching = sorted(f"{m} -> {t}" for m in MODULES if _part(m) == "formats"
                      for t in GRAPH[m] if _part(t) == "schemacheck")
    assert not reaching


MAX_LINES = 500  # issue 10: no module of gicmig/ over 500 lines


def test_no_module_is_over_500_lines() -> None:
    long = sorted(f"{name} ({n})" for name, path in MODULES.items()
                  if (n := len(path.read_text().splitlines())) > MAX_LINES)
    assert not long, f"modules over {MAX_LINES} lines: {long}"
