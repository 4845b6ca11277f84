"""Provenance stored with every run: code version, git commit, package versions."""

from __future__ import annotations

import importlib.metadata
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGES = (
    "mskbench", "numpy", "scipy", "pandas", "torch", "monai", "segmentation-models-pytorch",
    "timm", "duckdb", "SimpleITK", "nibabel", "scikit-learn", "pingouin", "medpy",
)  # fmt: skip


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    return {name: package_version(name) for name in PACKAGES}


@lru_cache(maxsize=1)
def git_commit() -> str:
    """Commit of the mskbench checkout (``+dirty`` with uncommitted changes); ``unknown``
    when mskbench is not run from a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def record_provenance(dataset: Any) -> dict[str, Any]:
    """The `RunRecord` fields that name a run's data (``dataset``: a
    `tasks.contract.Dataset`: fingerprints and folder) and code (version, commit,
    packages)."""
    return {
        "data_fingerprint": dataset.fingerprint,
        "split_fingerprint": dataset.split_fingerprint,
        "data_root": str(dataset.root),
        "mskbench_version": package_version("mskbench") or "unknown",
        "git_commit": git_commit(),
        "packages": package_versions(),
    }
