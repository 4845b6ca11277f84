"""`bench new-model` writes a plugin that installs, is listed, runs and reaches `bench results`."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mskbench.harness.cli import app
from mskbench.harness.plugin import new_plugin

runner = CliRunner()


def test_skeleton_files_and_refusals(tmp_path):
    root = new_plugin("knee_magic", tmp_path)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == [
        "README.md",
        "pyproject.toml",
        "src/mskbench_knee_magic/__init__.py",
        "src/mskbench_knee_magic/model.py",
        "tests/test_model.py",
    ]
    assert (
        'knee_magic = "mskbench_knee_magic.model:KneeMagicModel"'
        in (root / "pyproject.toml").read_text()
    )
    result = runner.invoke(app, ["new-model", "knee_magic", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "exists and is not empty" in result.output
    result = runner.invoke(app, ["new-model", "Bad-Name", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "must be lower_snake_case" in result.output


@pytest.mark.slow
def test_installed_skeleton_is_listed_runs_and_appears_in_results(smoke_thigh, tmp_path):
    root = new_plugin("my_atlas", tmp_path / "plugins")
    venv = tmp_path / "venv"
    # a fresh venv that sees this environment's packages (mskbench included, with its
    # editable-install hooks) through site.addsitedir, plus the plugin installed into it
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    parent_sites = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(own_site, "_mskbench_parent.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in parent_sites)
    )
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            str(root),
        ],
        check=True,
        capture_output=True,
    )

    def bench(*args: str) -> str:
        done = subprocess.run(
            [str(python), "-m", "mskbench.harness.cli", *args], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "my_atlas" in bench("list", "models")
    db = tmp_path / "plugin.duckdb"
    bench(
        "run", "--task", "nmd_thigh", "--model", "my_atlas", "--profile", "smoke", "--db", str(db)
    )
    assert "my_atlas" in bench("results", "--task", "nmd_thigh", "--db", str(db), "--format", "csv")
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
