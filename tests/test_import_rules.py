"""The import rules between Pandora's packages, as written in pyproject.toml's [tool.importlinter] contracts.

import-linter builds the real import graph (TYPE_CHECKING imports included); this test fails with its report when
a contract breaks, e.g. the operator importing the recorder or a product importing the simulator.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    # In a process of its own: import-linter's graph building leaves logging in a state later tests notice.
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "0 broken" in lint.stdout


def module_level_imports(path: Path) -> set[str]:
    """Top-level package names a module imports when it is itself imported (not inside a function)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for inner in ast.walk(node):
                inner._in_function = True  # type: ignore[attr-defined]
    for node in ast.walk(tree):
        if getattr(node, "_in_function", False):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_demo_imports_the_simulator_only_when_it_runs():
    # The one allowed product -> simulator import (`pandora demo`) must stay lazy, so the recorder image, which has
    # no simulator, can still import every command module.
    demo = ROOT / "recorder" / "pandora_recorder" / "commands" / "demo.py"
    assert "pandora_simulator" not in module_level_imports(demo)
