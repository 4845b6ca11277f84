"""Shared fixtures: an isolated phantom cache, session-wide smoke phantoms, and the two toy
classification tasks of `tests/plugins/toy_tasks.py` registered through ``MSKBENCH_TASKS``
(set before mskbench is imported, so this process and every ``bench`` it starts know them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PLUGINS = Path(__file__).resolve().parent / "plugins"
TOY_TASKS = (
    f"toy_binary={PLUGINS / 'toy_tasks.py'}:TOY_BINARY,"
    f"toy_grades={PLUGINS / 'toy_tasks.py'}:TOY_GRADES"
)
os.environ["MSKBENCH_TASKS"] = TOY_TASKS


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


@pytest.fixture(scope="session")
def toy_binary(isolated_cache: Path) -> Path:
    """The toy_binary phantom: 36 slices, half with a lesion, no label map (read-only)."""
    return _smoke("toy_binary")


@pytest.fixture(scope="session")
def toy_grades(isolated_cache: Path) -> Path:
    """The toy_grades phantom: 36 cases, grades 0-3, two series of different grids."""
    return _smoke("toy_grades")
