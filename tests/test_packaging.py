"""Packaging: the top-level folders install under the ``mskbench`` namespace only.

`harness`, `tasks`, `baselines` and `leaderboard` are names of other PyPI distributions, so
the wheel must hold nothing outside ``mskbench/`` and the code must import itself only as
``mskbench.<folder>``: a bare ``import harness`` would work from a checkout and break (or
pick up another project) once installed.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("harness", "tasks", "baselines", "leaderboard")


def _python_files() -> list[Path]:
    files = []
    for top in (*FOLDERS, "tests", "benchmarks"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def test_pyproject_lists_every_package_folder_under_the_namespace():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(config["packages"])
    found = {
        "mskbench." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in FOLDERS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert declared == found
    assert config["package-dir"] == {f"mskbench.{top}": top for top in FOLDERS}


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_code_imports_the_project_only_through_the_namespace(path: Path):
    bare = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        bare += [n for n in names if n.split(".")[0] in FOLDERS]
    assert not bare, f"{path.name} imports {bare}; use mskbench.<folder>"


@pytest.mark.slow
def test_the_wheel_holds_only_the_mskbench_namespace(tmp_path: Path):
    source = tmp_path / "source"  # setuptools builds in the source tree: keep the checkout clean
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "results", "build", "*.egg-info", "__pycache__", "tests", "benchmarks", "docs",
    ))  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("mskbench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"mskbench"}
    for expected in (
        "mskbench/harness/cli.py",
        "mskbench/tasks/nmd/spec.py",
        "mskbench/baselines/cards.py",
        "mskbench/baselines/nnunet/driver.py",  # run as python -m mskbench.baselines.nnunet.driver
        "mskbench/leaderboard/app.py",
        "mskbench/harness/templates/plugin/model.py.tmpl",
    ):
        assert expected in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "bench = mskbench.harness.cli:main" in text
    assert "unet2d = mskbench.baselines.cards:UNET2D" in text
    assert "nnunet = mskbench.baselines.nnunet.card:NNUNET" in text
