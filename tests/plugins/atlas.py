"""A fast, torch-free test model: the per-voxel label atlas of the plugin skeleton.

``MSKBENCH_TEST_PAUSE_FOLD=<k>`` makes ``fit`` of fold ``k`` write its process id into the
file named by ``MSKBENCH_TEST_MARKER`` and sleep, so a test can kill the process mid-fold;
once that file exists the fold runs normally (the retry or the rerun after the kill).
Environment variables are not hyper-parameters: they do not change the run key.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
from scipy import ndimage

from mskbench.harness.models import FitReport, Prediction


def _resize(label: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return ndimage.zoom(
        label,
        [n / s for n, s in zip(shape, label.shape, strict=True)],
        order=0,
        grid_mode=True,
        mode="nearest",
    )


class Atlas:
    """Per-voxel most frequent training label."""

    tasks = ("*",)
    description = "test atlas"
    hyperparameters: ClassVar[dict] = {"grid": (6, 32, 32)}

    def __init__(self, grid=(6, 32, 32)):
        self.grid = tuple(grid)

    def get_params(self):
        return {"grid": list(self.grid)}

    def fit(self, train, val, ctx):
        pause = os.environ.get("MSKBENCH_TEST_PAUSE_FOLD")
        marker = Path(os.environ.get("MSKBENCH_TEST_MARKER", ""))
        if pause is not None and ctx.work_dir.name == f"fold{pause}" and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(600)
        counts = np.zeros((len(ctx.task.labels), *self.grid), np.int32)
        for case in train:
            resized = _resize(case.label, self.grid)
            for value in range(len(ctx.task.labels)):
                counts[value] += resized == value
        self.atlas_ = counts.argmax(0).astype(np.uint8)
        return FitReport(epochs=1, best_epoch=1)

    def predict(self, case, ctx):
        return Prediction(label=_resize(self.atlas_, case.image.shape[1:]))
