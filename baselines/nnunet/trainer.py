"""``nnUNetTrainerMskbench``: nnU-Net's own trainer with the harness's schedule and progress.

Everything that makes nnU-Net nnU-Net is inherited unchanged: the planned network, Dice +
cross-entropy with deep supervision, SGD with Nesterov momentum and the poly learning
rate, foreground oversampling and the full augmentation pipeline. What changes:

- ``num_epochs``, ``num_iterations_per_epoch``, ``num_val_iterations_per_epoch`` and
  ``save_every`` are set by the driver after construction (the harness's epoch budget;
  nnU-Net's constructor signature must stay as it is, its checkpoints store the arguments);
- after every epoch one line ``MSKBENCH_EPOCH {json}`` goes to stdout (epoch, losses,
  pseudo Dice, the epoch of the best EMA pseudo Dice, training images per second), which
  `mskbench.baselines.nnunet.model` turns into `EpochReport`s;
- the progress plot (``progress.png``, matplotlib, every epoch) is drawn only every
  ``save_every`` epochs and at the end.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from mskbench.baselines.nnunet.driver import EPOCH_MARKER


def _number(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


class nnUNetTrainerMskbench(nnUNetTrainer):
    """nnU-Net's trainer on the harness's schedule (see the module docstring)."""

    train_seconds: float = 0.0
    train_images: int = 0

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._epoch_started = time.perf_counter()

    def on_train_epoch_end(self, train_outputs: list[dict]) -> None:
        seconds = time.perf_counter() - self._epoch_started
        super().on_train_epoch_end(train_outputs)
        self._epoch_seconds = seconds
        self._epoch_images = self.num_iterations_per_epoch * self.batch_size
        self.train_seconds += seconds
        self.train_images += self._epoch_images

    def on_epoch_end(self) -> None:
        plot = self.logger.plot_progress_png
        finishing = self.current_epoch + 1 == self.num_epochs
        if (self.current_epoch + 1) % self.save_every and not finishing:
            self.logger.plot_progress_png = lambda *args, **kwargs: None  # type: ignore[method-assign]
        try:
            super().on_epoch_end()  # increments current_epoch
        finally:
            self.logger.plot_progress_png = plot  # type: ignore[method-assign]
        ema = np.asarray(self.logger.get_value("ema_fg_dice", step=None), dtype=float)
        best = int(np.nanargmax(ema)) + 1 if np.isfinite(ema).any() else self.current_epoch
        report = {
            "epoch": self.current_epoch,  # 1-based: the number of finished epochs
            "max_epochs": self.num_epochs,
            "train_loss": _number(self.logger.get_value("train_losses", step=-1)),
            "val_loss": _number(self.logger.get_value("val_losses", step=-1)),
            "pseudo_dice": _number(self.logger.get_value("mean_fg_dice", step=-1)),
            "best_epoch": best,
            "images_per_s": self._epoch_images / max(self._epoch_seconds, 1e-9),
            "seconds": self._epoch_seconds,
        }
        print(EPOCH_MARKER + json.dumps(report), flush=True)
