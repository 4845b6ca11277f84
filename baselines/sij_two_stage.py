"""`sij_two_stage`: seed 004's axSpA classifier — segment FM, then classify the image together
with the FM region (imports torch).

The seed (Methods, "classification model"): the FM region of the best segmentation model's
mask was turned into an ROI map, concatenated with the original image and fed to a
classifier trained with binary cross-entropy (300 epochs, initial lr 0.001; its network is
in the seed's supplement, not in the text). Here:

* **Stage 1** — a catalog segmenter (hyper-parameter ``segmenter``, any card run by
  `NetworkSegmenter`: default ``sij_attention25d``, the seed's; ``unet2d`` is the cheap
  one) trained on the training cases' FM masks with that card's own setup.
* **Stage 2** — a torchvision ResNet-18 (``weights=None``, first convolution taking two
  channels) on every slice of a two-channel volume: channel 0 the T1 image divided by its
  99th percentile, channel 1 stage 1's *predicted* FM probability (the seed's "image plus
  ROI map"); per-slice features are max-pooled over slices, then one logit. The volume is
  resampled to ``slices`` slices along z (linear) so that cases batch together. 2D over
  slices rather than 3D: the volumes have 16–20 thick slices (anisotropic), the per-slice
  network is the one the knee task already runs on CPU, and a 3D network from scratch on
  455 patients has more to learn. Trained by the shared `TrainingLoop`, BCE, Adam at
  ``lr``, early stopping on the validation loss, random left-right flips (both joints
  are imaged, so a mirrored pelvis is a plausible pelvis) in training batches only.
  P(axSpA) is ``Prediction(scores={"axspa": p})``; the FM label map (stage 1) is returned
  too, so the run also stores FM Dice on the test cases.

**No stage-1 map of a training case comes from a segmenter fitted on that case.** The
training cases are split in two halves (stratified by axSpA, from the run's seed); one
segmenter is fitted per half, and each training case's FM map is predicted by the
segmenter of the *other* half (out-of-fold, cross-fitting). Validation and test cases
(and the external site) get the mean of the two segmenters' probabilities, so every map
stage 2 sees, in training or at test time, comes from segmenters trained on about half of
the training cases — the same kind of map in both. The validation cases stop stage 1's
training early as well as stage 2's (a mild optimism of their maps; they are not scored).
Stage 2 never reads a reference mask: at prediction time only the image is used.

``--weights``: a local state dict of the stage-1 network (as for the segmenter cards),
which both half segmenters start from; nothing is downloaded. Stage 2 starts from
scratch. Not reproduced: the seed's classifier architecture and its 300 fixed epochs
(the profile sets epochs and patience).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torchvision.models import resnet18

from mskbench.baselines.sij import normalised
from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport
from mskbench.harness.training import runtime
from mskbench.harness.training.binary import fit_logit_network, sigmoid_probabilities
from mskbench.tasks.case import Case, Prediction

TARGET = "axspa"
FM = 1  # the FM label value of the task's label map
N_HALVES = 2


def segmenter_card(name: str):
    """The registered card of the stage-1 segmenter ``name``; its class must be
    `NetworkSegmenter` or a subclass (the card's hyper-parameters are that class's keyword
    arguments)."""
    from mskbench.baselines.segmenter import NetworkSegmenter
    from mskbench.harness.models import get_model_card

    card = get_model_card(name)
    cls = card.model_class()
    if not issubclass(cls, NetworkSegmenter):
        raise ValueError(
            f"segmenter {name!r} is not a network segmenter card (its class "
            f"{cls.__qualname__} is not a NetworkSegmenter)"
        )
    return card


def build_segmenter(name: str):
    """A fresh segmenter of the card's class with its hyper-parameters (its training setup)."""
    card = segmenter_card(name)
    return card.model_class()(**dict(card.hyperparameters))


def resample_slices(volume: np.ndarray, slices: int) -> np.ndarray:
    """``volume`` ``(z, y, x)`` resampled linearly along z to ``slices`` slices."""
    if volume.shape[0] == slices:
        return volume.astype(np.float32)
    zoom = (slices / volume.shape[0], 1.0, 1.0)
    out = ndimage.zoom(volume.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
    return out[:slices]


def stage2_input(image: np.ndarray, fm_probability: np.ndarray, slices: int) -> np.ndarray:
    """Stage 2's input ``(2, slices, y, x)``: the T1 image ``(z, y, x)`` divided by its 99th
    percentile, and the FM probability map of the same grid (clipped to [0, 1])."""
    if image.shape != fm_probability.shape:
        raise ValueError(f"image {image.shape} and FM map {fm_probability.shape} differ")
    channels = (normalised(image.astype(np.float32)), np.clip(fm_probability, 0.0, 1.0))
    return np.stack([resample_slices(c, slices) for c in channels])


def halves(case_ids: list[str], labels: list[int], seed: int) -> list[list[str]]:
    """``case_ids`` in `N_HALVES` parts: each class shuffled, then all dealt out in turn
    (class after class, the turn carried over), so the parts' sizes differ by at most one."""
    rng = np.random.default_rng(seed)
    parts: list[list[str]] = [[] for _ in range(N_HALVES)]
    turn = 0
    for value in sorted(set(labels)):
        members = [c for c, y in zip(case_ids, labels, strict=True) if y == value]
        for index in rng.permutation(len(members)):
            parts[turn % N_HALVES].append(members[index])
            turn += 1
    return [sorted(p) for p in parts]


class SliceResNet(nn.Module):
    """ResNet-18 on each slice of ``(N, C, Z, y, x)``, max over slices, one logit."""

    def __init__(self, in_channels: int = 2) -> None:
        super().__init__()
        net = resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        net.fc = nn.Identity()
        self.features = net
        self.head = nn.Linear(512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, z, h, w = x.shape
        per_slice = self.features(x.permute(0, 2, 1, 3, 4).reshape(n * z, c, h, w))
        return self.head(per_slice.reshape(n, z, -1).amax(dim=1))


class SijTwoStage:
    """FM segmenter (cross-fitted halves), then a ResNet-18 on image + FM map (docstring)."""

    def __init__(
        self,
        segmenter: str = "sij_attention25d",
        lr: float = 1e-3,
        batch_size: int = 4,
        slices: int = 16,
    ) -> None:
        self.segmenter = segmenter
        self.lr = lr
        self.batch_size = batch_size
        self.slices = slices

    def get_params(self) -> dict[str, Any]:
        return {
            "segmenter": self.segmenter,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "slices": self.slices,
        }

    # -- stage 1 ------------------------------------------------------------------------
    def fm_probability(self, case: Case, ctx: FitContext, which: list[int] | None = None):
        """Mean FM probability ``(z, y, x)`` of the segmenters ``which`` (all by default)
        on ``case``'s image, and the mean probabilities of every label."""
        chosen = range(len(self.segmenters_)) if which is None else which
        probabilities = np.mean(
            [self.segmenters_[k].predict_probabilities(case) for k in chosen], axis=0
        )
        return probabilities[FM], probabilities

    # -- the protocol -------------------------------------------------------------------
    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        runtime.seed_everything(ctx.seed)
        runtime.reset_peak_memory(ctx.device)
        target = ctx.task.target(TARGET)
        ids, labels = [], []
        for case_id in train.case_ids:
            case = train.dataset.load(case_id, with_maps=False)
            outcome = target.outcome(case.targets.get(TARGET))
            ids.append(case_id)
            labels.append(-1 if outcome is None else int(outcome))
        self.halves_ = halves(ids, labels, ctx.seed)
        if any(not part for part in self.halves_):
            raise ValueError("sij_two_stage needs at least two training cases")
        self.segmenters_, epochs = [], 0
        for k, part in enumerate(self.halves_):
            segmenter = build_segmenter(self.segmenter)
            seg_ctx = replace(ctx, work_dir=ctx.work_dir / f"segmenter_{k}")
            report = segmenter.fit(CaseSet(train.dataset, part), val, seg_ctx)
            epochs += report.epochs or 0
            self.segmenters_.append(segmenter)
        #: which segmenter drew each training case's map (out-of-fold)
        self.map_source_ = {
            case_id: [1 - k] for k, part in enumerate(self.halves_) for case_id in part
        }
        train_x, train_y = self._inputs(train, ctx, out_of_fold=True)
        val_x, val_y = self._inputs(val, ctx, out_of_fold=False)
        result = self._fit_classifier(train_x, train_y, val_x, val_y, ctx)
        return FitReport(
            epochs=epochs + result.epochs,
            best_epoch=result.best_epoch,
            train_images_per_s=result.images_per_s,
            peak_memory_mb=runtime.peak_memory_mb(ctx.device),
        )

    def _inputs(self, cases: CaseSet, ctx: FitContext, out_of_fold: bool):
        """Stage-2 inputs (float16) and 0/1 labels of the labelled ``cases``."""
        target = ctx.task.target(TARGET)
        xs, ys = [], []
        for case_id in cases.case_ids:
            case = cases.dataset.load(case_id, with_maps=False)
            outcome = target.outcome(case.targets.get(TARGET))
            if outcome is None:
                continue
            which = self.map_source_[case_id] if out_of_fold else None
            fm, _ = self.fm_probability(case, ctx, which)
            xs.append(stage2_input(case.image[0], fm, self.slices).astype(np.float16))
            ys.append(float(outcome))
        return xs, np.array(ys, dtype=np.float32)

    def _batches(self, xs, ys, rng: np.random.Generator | None):
        order = rng.permutation(len(xs)) if rng is not None else np.arange(len(xs))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            x = np.stack([xs[i] for i in index]).astype(np.float32)
            if rng is not None:
                flip = rng.random(len(index)) < 0.5
                x[flip] = x[flip][..., ::-1]
            yield np.ascontiguousarray(x), ys[index, None]

    def _fit_classifier(self, train_x, train_y, val_x, val_y, ctx: FitContext):
        network = SliceResNet(in_channels=2)
        identity = {
            "model": "sij_two_stage",
            **self.get_params(),
            "seed": ctx.seed,
            "size": ctx.size,
            "halves": self.halves_,
        }
        has_val = len(val_y) > 0
        self.network_, result = fit_logit_network(
            network,
            nn.BCEWithLogitsLoss(),
            ctx,
            ctx.work_dir / "classifier" / "classifier.pt",
            identity,
            lambda rng: self._batches(train_x, train_y, rng),
            (lambda rng: self._batches(val_x, val_y, None)) if has_val else None,
            lr=self.lr,
        )
        self.device_ = ctx.device
        return result

    def probability(self, x: np.ndarray) -> float:
        """P(axSpA) of one stage-2 input ``(2, slices, y, x)``."""
        return float(sigmoid_probabilities(self.network_, x[None], self.device_).item())

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        fm, probabilities = self.fm_probability(case, ctx)
        p = self.probability(stage2_input(case.image[0], fm, self.slices))
        return Prediction(
            label=probabilities.argmax(0).astype(np.uint8),
            probabilities=probabilities,
            scores={TARGET: p},
        )
