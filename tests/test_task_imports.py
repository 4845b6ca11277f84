"""A task is one package that arranges data and rows; it never reaches into the results
store, selects runs or writes SQL (docs/architecture.md, "Parts")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TASK_FILES = sorted((ROOT / "tasks").rglob("*.py"))
#: Modules task code must not import (directly), and must not pull in (transitively).
FORBIDDEN = (
    "duckdb",
    "mskbench.harness.store",
    "mskbench.harness.summary",
    "mskbench.harness.aggregation",
    "mskbench.harness.tables",
    "mskbench.harness.classification",
    "mskbench.harness.cli",
    "mskbench.leaderboard",
)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_task_code_imports_no_store_sql_or_summary(path: Path):
    bad = [name for name in _imports(path) if _forbidden(name)]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_every_task_module_loads_neither_duckdb_nor_the_store():
    modules = [
        "mskbench." + ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in TASK_FILES
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
