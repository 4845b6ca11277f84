"""Fit a network with logits for case-level binary labels through the shared
`TrainingLoop`, and read its probabilities: the step the knee CNNs, the shoulder crop
classifier and seed 004's stage-2 classifier share.

The loop gets the run's fold budget (``ctx.epochs``, the profile's patience), float 0/1
targets (BCE-with-logits style losses) and a resumable checkpoint keyed by ``identity``
(JSON; a changed identity starts over instead of resuming another model's weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mskbench.harness.models import FitContext
from mskbench.harness.training.loop import Batches, LoopConfig, LoopResult, TrainingLoop


def fit_logit_network(
    network: nn.Module,
    loss: nn.Module,
    ctx: FitContext,
    checkpoint: Path,
    identity: dict[str, Any],
    train_batches: Batches,
    val_batches: Batches | None,
    lr: float,
    **loop_options: Any,
) -> tuple[nn.Module, LoopResult]:
    """Train ``network`` on ``train_batches`` with early stopping on ``val_batches`` (None:
    no validation cases) and return it in eval mode with the loop's result.
    ``loop_options``: further `LoopConfig` fields (weight decay, ...)."""
    config = LoopConfig(
        max_epochs=ctx.epochs,
        patience=ctx.profile.patience,
        lr=lr,
        device=ctx.device,
        float_targets=True,
        fingerprint=json.dumps(identity, sort_keys=True, default=str),
        **loop_options,
    )
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    loop = TrainingLoop(network, loss, config, checkpoint)
    result = loop.run(train_batches, val_batches, seed=ctx.seed, on_epoch=ctx.on_epoch)
    return loop.network.eval(), result


@torch.no_grad()
def sigmoid_probabilities(network: nn.Module, inputs: np.ndarray, device: str) -> np.ndarray:
    """``sigmoid(network(inputs))`` as float64, one row per input of the batch ``inputs``."""
    x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(device)
    return torch.sigmoid(network(x)).double().cpu().numpy()
