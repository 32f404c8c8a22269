"""The simulator's modules import each other without a cycle, counting imports under ``TYPE_CHECKING`` and inside
functions: the facade wires the parts; no part reaches back up to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pandora_simulator

PACKAGE = "pandora_simulator"
ROOT = Path(pandora_simulator.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, here: str, modules: set[str], *, is_package: bool = False) -> set[str]:
    """The package's modules that module ``here`` imports, anywhere in its source; ``from package import name``
    counts as the submodule ``name`` when there is one, else as the package itself (its ``__init__``)."""
    package = here if is_package else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {name for name in found if name in modules and name != here}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {
        module_name(path): imported_modules(path.read_text(), module_name(path), modules,
                                            is_package=path.name == "__init__.py")
        for path in paths
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in stack:
            return [*stack[stack.index(node):], node]
        if node in done:
            return None
        stack.append(node)
        for target in sorted(graph[node]):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        stack.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_the_simulator_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 20 and graph[f"{PACKAGE}.simulator"], "the walk found the package's modules and imports"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_only_the_facade_and_its_front_ends_import_the_facade() -> None:
    importers = {name for name, targets in import_graph().items() if f"{PACKAGE}.simulator" in targets}
    assert importers == {PACKAGE, f"{PACKAGE}.commands", f"{PACKAGE}.scenario", f"{PACKAGE}.testing"}


def test_a_cycle_through_a_type_checking_import_is_reported() -> None:
    """The walk sees imports under ``if TYPE_CHECKING:`` (where the old model -> simulator cycle lived)."""
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pandora_simulator.simulator import X\n"
    graph = import_graph()
    graph[f"{PACKAGE}.model"] = imported_modules(source, f"{PACKAGE}.model", set(graph))
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1] and {f"{PACKAGE}.model", f"{PACKAGE}.simulator"} <= set(cycle)
