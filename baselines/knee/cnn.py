"""`MrnetCNN`: seed 001's multi-view classifier — one CNN per plane, logistic-regression
fusion per label (imports torch).

Per plane of ``views`` a `networks.PlaneNet` (AlexNet, ResNet-18 or GoogLeNet on every
slice, pooled over slices) is trained with the harness's loop: one exam per step, binary
cross-entropy with each label's positive class weighted by its negative/positive ratio in
the training set (MRNet's weighting; the seed does not say), Adam at lr 1e-4 with weight
decay 0.1 (the seed's), early stopping on the validation loss with the profile's patience,
and the seed's augmentation — a horizontal flip with probability 0.5, a rotation within
±25° and a shift within ±25 px (at 256 px; scaled with the input size), one transform per
exam and plane.

Weight decay: the seed's "Adam optimizer with a weight decay of 0.1" is read as decoupled
decay (AdamW; ``decoupled_weight_decay=True``, the default). Read as Adam's L2 penalty
(``--set decoupled_weight_decay=false``), 0.1 holds every weight near zero when training
from scratch: measured on the quick phantom, `mrnet_alexnet`'s loss stayed flat and every
AUROC was 0.500 (README, knee_mrnet). The seed fine-tuned ImageNet weights; nothing can be
downloaded here, so the networks start from scratch unless ``--weights`` is given.

Each plane network is built and trained from its own seed (the run's seed, the plane and
its labels), so a single-view run's network is the multi-view run's network of that plane,
weight for weight: the multi- vs single-view comparison is paired, fusion against one plane.
``per_label=False`` (default) gives each plane's network one output per
label (three networks per architecture); ``per_label=True`` trains one network per plane
and label, the seed's nine.

Fusion (seed §II.C): per label, a scikit-learn logistic regression on the planes'
probabilities of the *training* cases (the validation cases only stop training). With one
view it is a monotone recalibration of that plane's probability (the single-view
variants, the seed's "single view" rows).
"""

from __future__ import annotations

import math
import zlib
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mskbench.baselines.knee.floor import parse_views
from mskbench.baselines.knee.networks import INPUT_SIZE, PlaneNet, load_imagenet
from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport
from mskbench.harness.training import runtime
from mskbench.harness.training.binary import fit_logit_network, sigmoid_probabilities
from mskbench.tasks.case import Case, Prediction

#: ImageNet's grey mean and SD (of the three channels' means), for [0, 1] inputs.
GREY_MEAN, GREY_SD = 0.449, 0.226
MAX_ROTATION_DEG = 25.0
MAX_SHIFT_PX_AT_256 = 25.0
FLIP_PROBABILITY = 0.5


def network_seed(seed: int, view: str, group: list[int]) -> int:
    """The torch seed of one plane network: the run's ``seed``, the plane, its labels."""
    return zlib.crc32(f"{seed}:{view}:{','.join(map(str, group))}".encode())


def resize_stack(stack: np.ndarray, side: int) -> np.ndarray:
    """``(slices, rows, columns)`` (0-255) → ``(slices, side, side)`` uint8, antialiased."""
    tensor = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[:, None]
    if tensor.shape[-1] != side or tensor.shape[-2] != side:
        tensor = F.interpolate(tensor, size=(side, side), mode="bilinear", antialias=True)
    return tensor[:, 0].clamp(0, 255).round().to(torch.uint8).numpy()


def network_input(stack: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """A uint8 stack as the network's ``(slices, 3, S, S)`` float32 input, augmented with
    the seed's flip/rotation/shift when ``rng`` is given (one transform for all slices)."""
    x = torch.from_numpy(stack.astype(np.float32) / 255.0)[:, None]
    if rng is not None:
        side = stack.shape[-1]
        angle = math.radians(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
        shift = rng.uniform(-1, 1, 2) * MAX_SHIFT_PX_AT_256 * (side / 256) * 2 / side
        flip = -1.0 if rng.random() < FLIP_PROBABILITY else 1.0
        theta = torch.tensor(
            [[flip * math.cos(angle), -math.sin(angle), shift[0]],
             [flip * math.sin(angle), math.cos(angle), shift[1]]], dtype=torch.float32,
        ).expand(x.shape[0], 2, 3)  # fmt: skip
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    x = (x - GREY_MEAN) / GREY_SD
    return x.expand(-1, 3, -1, -1).contiguous().numpy()


class MrnetCNN:
    """One CNN per plane (and label with ``per_label``) + logistic-regression fusion."""

    def __init__(
        self,
        backbone: str = "resnet18",
        views: str = "all",
        lr: float = 1e-4,
        weight_decay: float = 0.1,
        per_label: bool = False,
        decoupled_weight_decay: bool = True,
    ) -> None:
        self.backbone = backbone
        self.views = views
        self.lr = lr
        self.weight_decay = weight_decay
        self.per_label = per_label
        self.decoupled_weight_decay = decoupled_weight_decay

    def get_params(self) -> dict[str, Any]:
        return {"backbone": self.backbone, "views": self.views, "lr": self.lr,
                "weight_decay": self.weight_decay, "per_label": self.per_label,
                "decoupled_weight_decay": self.decoupled_weight_decay}  # fmt: skip

    # -- data ---------------------------------------------------------------------------
    def _stacks(self, cases: CaseSet) -> tuple[dict[str, list[np.ndarray]], np.ndarray]:
        """Resized uint8 stacks per view of ``cases`` and their ``(N, labels)`` 0/1/NaN."""
        stacks: dict[str, list[np.ndarray]] = {v: [] for v in self.views_}
        labels = []
        for case_id in cases.case_ids:
            case = cases.dataset.load(case_id)
            for view in self.views_:
                stacks[view].append(resize_stack(case.images[view][0], self.side_))
            labels.append([t.outcome(case.targets.get(t.name)) for t in self.targets_])
        return stacks, np.array(labels, dtype=float).reshape(len(cases.case_ids), -1)

    @staticmethod
    def _batches(stacks: list[np.ndarray], labels: np.ndarray, rng: np.random.Generator | None):
        order = rng.permutation(len(stacks)) if rng is not None else np.arange(len(stacks))
        for i in order:
            yield network_input(stacks[i], rng), np.nan_to_num(labels[i][None], nan=0.0)

    # -- training -----------------------------------------------------------------------
    def _train_network(self, view: str, group: list[int], train, val, ctx: FitContext) -> Any:
        (train_stacks, train_labels), (val_stacks, val_labels) = train, val
        y = train_labels[:, group]
        positive = np.nansum(y, axis=0)
        negative = np.sum(~np.isnan(y), axis=0) - positive
        pos_weight = torch.tensor(negative / np.maximum(positive, 1), dtype=torch.float32)
        torch.manual_seed(network_seed(ctx.seed, view, group))
        network = PlaneNet(self.backbone, len(group))
        if ctx.weights is not None:
            load_imagenet(network, ctx.weights)
        identity = {"model": self.get_params(), "view": view, "labels": group,
                    "size": ctx.size, "seed": ctx.seed, "n_train": len(train_stacks[view])}  # fmt: skip
        has_val = len(val_stacks[view]) > 0
        return fit_logit_network(
            network,
            nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(ctx.device)),
            ctx,
            ctx.work_dir / f"{view}_{'_'.join(map(str, group))}.pt",
            identity,
            lambda rng: self._batches(train_stacks[view], train_labels[:, group], rng),
            (lambda _: self._batches(val_stacks[view], val_labels[:, group], None)) if has_val else None,
            lr=self.lr,
            weight_decay=self.weight_decay,
            decoupled_weight_decay=self.decoupled_weight_decay,
        )  # fmt: skip

    def _plane_probabilities(self, view: str, stack: np.ndarray) -> np.ndarray:
        """P(label) per label from ``view``'s network(s) for one resized stack."""
        x = network_input(stack, None)
        out = np.empty(len(self.targets_))
        for group, network in self.networks_[view]:
            out[group] = sigmoid_probabilities(network, x, self.device_)[0]
        return out

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        from sklearn.linear_model import LogisticRegression

        runtime.reset_peak_memory(ctx.device)
        self.views_ = parse_views(self.views, tuple(s.name for s in ctx.task.series))
        self.targets_ = ctx.task.classification
        self.side_ = INPUT_SIZE[ctx.size]
        self.device_ = ctx.device
        train_data, val_data = self._stacks(train), self._stacks(val)
        n = len(self.targets_)
        groups = [[j] for j in range(n)] if self.per_label else [list(range(n))]
        self.networks_: dict[str, list[tuple[list[int], nn.Module]]] = {}
        images, seconds, epochs, best = 0, 0.0, 0, 0
        for view in self.views_:
            self.networks_[view] = []
            for group in groups:
                network, result = self._train_network(view, group, train_data, val_data, ctx)
                self.networks_[view].append((group, network))
                images += result.train_images
                seconds += result.train_seconds
                epochs, best = max(epochs, result.epochs), max(best, result.best_epoch)
        stacks, labels = train_data
        probabilities = np.stack([
            np.stack([self._plane_probabilities(v, stacks[v][i]) for v in self.views_])
            for i in range(len(labels))
        ])  # (cases, views, labels)  # fmt: skip
        self.fusion_: dict[str, Any] = {}
        for j, target in enumerate(self.targets_):
            known = ~np.isnan(labels[:, j])
            y = labels[known, j].astype(int)
            x = probabilities[known, :, j]
            self.fusion_[target.name] = (
                LogisticRegression(max_iter=1000).fit(x, y) if len(np.unique(y)) == 2 else None
            )
        return FitReport(
            epochs=epochs,
            best_epoch=best,
            train_images_per_s=images / seconds if seconds > 0 else None,
            peak_memory_mb=runtime.peak_memory_mb(ctx.device),
        )

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        planes = np.stack([
            self._plane_probabilities(v, resize_stack(case.images[v][0], self.side_))
            for v in self.views_
        ])  # (views, labels)  # fmt: skip
        scores = {}
        for j, target in enumerate(self.targets_):
            fusion = self.fusion_[target.name]
            x = planes[:, j][None]
            scores[target.name] = (
                float(fusion.predict_proba(x)[0, 1]) if fusion else float(x.mean())
            )
        return Prediction(scores=scores)
