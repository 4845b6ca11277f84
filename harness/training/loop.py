"""The one training loop of every torch model: epochs, early stopping, resumable checkpoints.

Adam (or AdamW: weight decay decoupled from the gradient, Loshchilov & Hutter 2019, when
``decoupled_weight_decay``), a ReduceLROnPlateau schedule on the validation loss, early stopping with patience
(seed 003 and 000: 10 epochs) restoring the best weights; automatic mixed precision and
channels-last memory on CUDA; a checkpoint written atomically after every epoch with the
model, optimizer, scheduler, grad-scaler and RNG states, the epoch, the best weights and
the loss history — a killed run resumes at the next epoch with the exact same state
(nnU-Net issue #901: resume must restore the learning rate too).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mskbench.harness.models.protocol import EpochReport

log = logging.getLogger(__name__)
Batches = Callable[[np.random.Generator | None], Iterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class LoopConfig:
    """Hyper-parameters of the loop (all stored in the checkpoint's fingerprint)."""

    max_epochs: int
    patience: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    #: False: Adam's L2 penalty added to the gradient; True: AdamW's decoupled decay
    decoupled_weight_decay: bool = False
    device: str = "cpu"
    amp: bool = True  # used on CUDA only
    #: targets are class indices given a channel axis (segmentation: ``(N, 1, *spatial)``
    #: long) or float values as they come (classification: ``(N, 1)`` probabilities)
    float_targets: bool = False
    fingerprint: str = (
        ""  # identifies model config + data; a checkpoint of another one is not resumed
    )


@dataclass
class LoopResult:
    epochs: int
    best_epoch: int
    best_loss: float
    train_images: int
    train_seconds: float
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.train_images / self.train_seconds if self.train_seconds > 0 else float("nan")


def _to_device(
    array: np.ndarray, device: str, channels_last: bool, dtype: torch.dtype
) -> torch.Tensor:
    tensor = torch.from_numpy(array).to(device, dtype=dtype, non_blocking=True)
    if channels_last and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor


class TrainingLoop:
    """Train ``network`` with ``loss_fn`` on batches from ``train_batches`` (see `run`)."""

    def __init__(
        self, network: nn.Module, loss_fn: nn.Module, config: LoopConfig, checkpoint: Path
    ) -> None:
        self.config = config
        self.device = config.device
        self.cuda = config.device.startswith("cuda")
        self.channels_last = self.cuda
        self.network = network.to(config.device)
        if self.channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        self.loss_fn = loss_fn
        optimizer = torch.optim.AdamW if config.decoupled_weight_decay else torch.optim.Adam
        self.optimizer = optimizer(
            self.network.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=0.5, patience=max(1, config.patience // 3)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.cuda and config.amp)
        self.checkpoint = checkpoint

    # -- one pass ---------------------------------------------------------------------
    def _step_loss(self, images: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        x = _to_device(images, self.device, self.channels_last, torch.float32)
        if self.config.float_targets:
            y = _to_device(labels, self.device, False, torch.float32)
        else:
            y = _to_device(labels[:, None], self.device, False, torch.long)
        with torch.autocast(
            device_type="cuda", dtype=torch.float16, enabled=self.cuda and self.config.amp
        ):
            return self.loss_fn(self.network(x), y)

    def _train_epoch(
        self, batches: Iterator[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[float, int, float]:
        self.network.train()
        total, n_images, seconds = 0.0, 0, 0.0
        for images, labels in batches:
            start = time.perf_counter()
            self.optimizer.zero_grad(set_to_none=True)
            loss = self._step_loss(images, labels)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            value = float(loss.detach())
            if self.cuda:
                torch.cuda.synchronize()
            seconds += time.perf_counter() - start
            total += value * len(images)
            n_images += len(images)
        return total / max(n_images, 1), n_images, seconds

    @torch.no_grad()
    def _evaluate(self, batches: Iterator[tuple[np.ndarray, np.ndarray]]) -> float:
        self.network.eval()
        total, n = 0.0, 0
        for images, labels in batches:
            total += float(self._step_loss(images, labels)) * len(images)
            n += len(images)
        return total / max(n, 1)

    # -- checkpoints ------------------------------------------------------------------
    def _save(self, state: dict) -> None:
        tmp = self.checkpoint.with_name(f".{self.checkpoint.name}.tmp-{os.getpid()}")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)

    def _load(self) -> dict | None:
        if not self.checkpoint.is_file():
            return None
        state = torch.load(self.checkpoint, map_location=self.device, weights_only=True)
        if state.get("fingerprint") != self.config.fingerprint:
            log.warning("%s belongs to another configuration; starting fresh", self.checkpoint)
            return None
        return state

    def _state(
        self, epoch: int, rng: np.random.Generator, best: dict, history: list, finished: bool
    ) -> dict:
        return {
            "fingerprint": self.config.fingerprint,
            "epoch": epoch,
            "finished": finished,
            "model": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng_numpy": rng.bit_generator.state,
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if self.cuda else [],
            "best": best,
            "history": history,
        }

    # -- the loop ---------------------------------------------------------------------
    def run(
        self,
        train_batches: Batches,
        val_batches: Batches | None,
        seed: int,
        on_epoch: Callable[[EpochReport], None] | None = None,
    ) -> LoopResult:
        """Train until ``max_epochs`` or ``patience`` epochs without a better validation loss.

        ``train_batches(rng)`` yields a shuffled epoch; ``val_batches(None)`` the validation
        set in order (None: early stopping watches the training loss).
        """
        rng = np.random.default_rng(seed)
        history: list[dict[str, float]] = []
        best = {"loss": math.inf, "epoch": 0, "weights": copy.deepcopy(self.network.state_dict())}
        start_epoch = 1
        state = self._load()
        if state is not None:
            self.network.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            rng.bit_generator.state = state["rng_numpy"]
            torch.set_rng_state(state["rng_torch"].cpu())
            if self.cuda and state["rng_cuda"]:
                torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
            best, history = state["best"], state["history"]
            start_epoch = state["epoch"] + 1
            log.info("resuming from %s at epoch %d", self.checkpoint, start_epoch)
            if state["finished"]:
                start_epoch = self.config.max_epochs + 1
        train_images = int(sum(h["train_images"] for h in history))
        train_seconds = float(sum(h["train_seconds"] for h in history))
        for epoch in range(start_epoch, self.config.max_epochs + 1):
            if epoch - best["epoch"] > self.config.patience:
                break  # `patience` epochs in a row without a better watched loss
            train_loss, n_images, seconds = self._train_epoch(train_batches(rng))
            val_loss = self._evaluate(val_batches(None)) if val_batches is not None else None
            watched = val_loss if val_loss is not None else train_loss
            self.scheduler.step(watched)
            if watched < best["loss"]:
                best = {
                    "loss": watched,
                    "epoch": epoch,
                    "weights": copy.deepcopy(self.network.state_dict()),
                }
            train_images += n_images
            train_seconds += seconds
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": math.nan if val_loss is None else val_loss,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "train_images": n_images,
                    "train_seconds": seconds,
                }
            )
            self._save(self._state(epoch, rng, best, history, finished=False))
            if on_epoch is not None:
                on_epoch(
                    EpochReport(
                        epoch,
                        self.config.max_epochs,
                        train_loss,
                        val_loss,
                        best["epoch"],
                        n_images / max(seconds, 1e-9),
                    )
                )
        epochs_done = history[-1]["epoch"] if history else 0
        self.network.load_state_dict(best["weights"])
        self._save(self._state(int(epochs_done), rng, best, history, finished=True))
        return LoopResult(
            int(epochs_done),
            int(best["epoch"]),
            float(best["loss"]),
            train_images,
            train_seconds,
            history,
        )
