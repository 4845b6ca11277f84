"""Seed 000's classifier: a VGG-19 on the region-of-interest crop, one output (the logit of
"risky"), trained with the harness's loop (imports torch).

Sizes: ``paper`` is torchvision's VGG-19 (ImageNet layout: 3-channel input — the grey crop
repeated — 4096-4096 classifier, last layer 1 output) on 224 × 224 crops; ``small`` keeps
VGG-19's 16 convolutions and five pools at 1/8 of the widths, with a global-average-pool
head, on 96 × 96 crops (CPU). Nothing is downloaded: the network starts from scratch, or
from a local torchvision ImageNet state dict (``--weights``, paper size), whose features
are then frozen and only the classifier trained, as in the seed.

Training (seed): binary cross-entropy, Adam, the minority class oversampled to about 1:1
and crops rotated within ±35° and flipped — in training batches only —, early stopping on
the validation loss with the profile's patience.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models import vgg19
from torchvision.models.vgg import cfgs, make_layers

from mskbench.baselines.shoulder.crops import augment, balanced_order
from mskbench.harness.models.protocol import FitContext
from mskbench.harness.training.binary import fit_logit_network, sigmoid_probabilities
from mskbench.harness.training.loop import LoopResult

#: Crop side (px) per network size.
CROP_SIZE = {"small": 96, "paper": 224}
_SMALL_WIDTH_DIVISOR = 8


def build_vgg19(size: str) -> nn.Module:
    """VGG-19 with one output logit (module docstring for the sizes)."""
    if size == "paper":
        return vgg19(weights=None, num_classes=1)
    config = [v if v == "M" else int(v) // _SMALL_WIDTH_DIVISOR for v in cfgs["E"]]
    width = config[-2]
    return nn.Sequential(
        make_layers(config, batch_norm=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, 64),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(64, 1),
    )


def load_imagenet(network: nn.Module, path: Path) -> None:
    """Load a local torchvision VGG-19 ImageNet state dict into the paper-size ``network``
    (all but the last layer, whose 1000 classes become our one output) and freeze its
    convolutional features (the seed trained only the classifier)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: v for k, v in state.items() if not k.startswith("classifier.6.")}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"classifier.6.weight", "classifier.6.bias"}:
        raise ValueError(f"{path}: not a torchvision VGG-19 state dict ({unexpected or missing})")
    for parameter in network.features.parameters():
        parameter.requires_grad = False


def _three_channels(crops: np.ndarray) -> np.ndarray:
    return np.repeat(crops[:, None].astype(np.float32), 3, axis=1)


class CropClassifier:
    """Train and apply the VGG-19 on crops (see the module docstring)."""

    def __init__(self, lr: float, batch_size: int) -> None:
        self.lr = lr
        self.batch_size = batch_size

    def _batches(self, crops, labels, rng: np.random.Generator | None):
        order = balanced_order(labels, rng) if rng is not None else np.arange(len(labels))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            x = augment(crops[index], rng) if rng is not None else crops[index]
            yield _three_channels(x), labels[index, None].astype(np.float32)

    def fit(
        self,
        train: tuple[np.ndarray, np.ndarray],
        val: tuple[np.ndarray, np.ndarray],
        ctx: FitContext,
        work_dir: Path,
        identity: dict[str, Any],
    ) -> LoopResult:
        """Train on ``train`` crops ``(N, S, S)`` with 0/1 labels, early stopping on
        ``val``; ``identity`` keys the resumable checkpoint in ``work_dir``."""
        network = build_vgg19(ctx.size)
        if ctx.weights is not None and ctx.size == "paper":
            load_imagenet(network, ctx.weights)
        has_val = len(val[1]) > 0
        self.network_, result = fit_logit_network(
            network,
            nn.BCEWithLogitsLoss(),
            ctx,
            work_dir / "classifier.pt",
            identity,
            lambda rng: self._batches(*train, rng),
            (lambda rng: self._batches(*val, None)) if has_val else None,
            lr=self.lr,
        )
        self.device_ = ctx.device
        return result

    def probability(self, crop: np.ndarray) -> float:
        """P(risky) of one crop ``(S, S)``."""
        return float(
            sigmoid_probabilities(self.network_, _three_channels(crop[None]), self.device_).item()
        )
