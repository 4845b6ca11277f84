"""Shared fixtures: an isolated phantom cache and session-wide smoke phantoms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Phantoms prepared by tests go to a temporary cache, never to ~/.cache."""
    root = tmp_path_factory.mktemp("mskbench-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("MSKBENCH_CACHE", str(root))
    yield root
    mp.undo()


def _smoke(task_name: str) -> Path:
    from mskbench.tasks import get_task
    from mskbench.tasks.phantoms import prepare_phantom

    root, _ = prepare_phantom(get_task(task_name), "smoke", seed=0)
    return root


@pytest.fixture(scope="session")
def smoke_thigh(isolated_cache: Path) -> Path:
    """The nmd_thigh smoke phantom (read-only: copy it before changing anything)."""
    return _smoke("nmd_thigh")


@pytest.fixture(scope="session")
def smoke_leg(isolated_cache: Path) -> Path:
    """The nmd_leg smoke phantom (read-only)."""
    return _smoke("nmd_leg")


@pytest.fixture
def thigh_copy(smoke_thigh: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the nmd_thigh smoke phantom."""
    return Path(shutil.copytree(smoke_thigh, tmp_path / "data"))


@pytest.fixture(scope="session")
def smoke_lumbar(isolated_cache: Path) -> Path:
    """The lumbar_paraspinal smoke phantom (read-only: copy it before changing anything)."""
    return _smoke("lumbar_paraspinal")


@pytest.fixture
def lumbar_copy(smoke_lumbar: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the lumbar_paraspinal smoke phantom."""
    return Path(shutil.copytree(smoke_lumbar, tmp_path / "lumbar"))
