"""`LumbarDual`: seed 002's dual model — a structure segmentation network and a fat model
(imports torch).

* **Seg model**: a 2D U-Net (MONAI DynUNet, `baselines.networks.unet`) over the 13
  labels, trained by the shared `harness.training.TorchSegmenter` loop (Dice + CE, Adam,
  early stopping). Widths per size in `NETWORK_SIZES` (``small`` runs the quick profile on
  a 2-core CPU; ``paper`` is Ronneberger's 64–1024). Instances are the connected
  components of each predicted label, scored by their mean softmax probability
  (`tasks.lumbar.evaluator`).

  *Deviation from the seed*, which used a Cascade Mask R-CNN (ResNet-101 + FPN, initialised
  from COCO weights of the MMDetection zoo): mskbench never downloads weights, and a
  two-stage detector trained from scratch needs far more images and epochs than the
  quick profile's CPU budget. Nothing is lost for the seed's metrics: every structure
  occurs once per side per slice (and the label map names the side), so class-wise
  semantic masks split into connected components give the instances that Mask R-CNN
  would, matched at IoU ≥ 0.75 the same way; the instance score is the mean softmax
  probability instead of a detector's class confidence, which only affects AP's ranking.
* **FI model**: a U-Net of the same family (`NETWORK_SIZES` ``fat``) with one sigmoid
  output, trained with MONAI's focal loss (γ = 5, no α weighting) on the reference muscle
  ROIs: it trains on the window around each slice's reference muscles and the loss counts
  only pixels inside them (the seed cropped muscle ROIs and labelled fat inside them), so
  the fat model never learns what fat *outside* a muscle should be. It is applied to the
  whole slice; its fat mask is then measured inside the reference muscles ("manual
  segmentation + FI model") and inside the Seg model's muscles ("Seg model + FI model"),
  where fat next to a leaky muscle mask counts — the seed's failure mode.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import torch
from monai.losses import FocalLoss
from torch import nn

from mskbench.baselines.networks.unet import build_unet2d
from mskbench.harness.models import CaseSet, FitContext, FitReport, Prediction
from mskbench.harness.training import TorchSegmenter, runtime
from mskbench.harness.training.loop import LoopConfig, TrainingLoop
from mskbench.harness.training.samples import SampleSpec, zscore

IGNORE, MUSCLE, FAT = 0, 1, 2
#: U-Net widths per level of the two networks, per network size.
NETWORK_SIZES = {
    "small": {"seg": (16, 32, 64, 128, 256), "fat": (16, 32, 64, 128, 256)},
    "paper": {"seg": (64, 128, 256, 512, 1024), "fat": (64, 128, 256, 512, 1024)},
}


def _unet(in_channels: int, out_channels: int, size: str, which: str) -> nn.Module:
    """A DynUNet with batch norm (it converged ~2× faster per step than instance norm at
    batches of 2 slices on the quick profile)."""
    channels = NETWORK_SIZES[size][which]
    return build_unet2d(in_channels, out_channels, channels=channels, norm="batch")


class StructureSegmenter(TorchSegmenter):
    """The Seg model: a 2D U-Net over all labels (`NETWORK_SIZES` ``seg``)."""

    input_multiple = 16

    def build_network(self, in_channels: int, num_classes: int, size: str) -> nn.Module:
        return _unet(in_channels, num_classes, size, "seg")


def structure_network(lr: float = 5e-3, batch_size: int = 2) -> StructureSegmenter:
    """The Seg model with Dice + CE (shared with ``lumbar_threshold`` when it thresholds a
    network's muscles)."""
    return StructureSegmenter(mode="2d", loss="dice_ce", lr=lr, batch_size=batch_size)


class MaskedFocalLoss(nn.Module):
    """MONAI's sigmoid focal loss ``−(1 − p_t)^γ log p_t`` (no α weighting) on one-channel
    logits, averaged over the pixels whose target is not ``IGNORE`` (targets: 0 ignore,
    1 muscle, 2 fat), i.e. over the reference muscles only."""

    def __init__(self, gamma: float = 5.0) -> None:
        super().__init__()
        self.gamma = gamma
        self.focal = FocalLoss(gamma=gamma, use_softmax=False, reduction="none")

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        inside = (target != IGNORE).float()
        per_pixel = self.focal(logits.float(), (target == FAT).float())
        return (per_pixel * inside).sum() / inside.sum().clamp(min=1)


class LumbarDual:
    """Seg model + FI model (see the module docstring); hyper-parameters: learning rates
    and batch sizes of both networks, focal γ, and the fat probability called fat."""

    def __init__(
        self,
        seg_lr: float = 5e-3,
        fat_lr: float = 2e-3,
        seg_batch_size: int = 2,
        fat_batch_size: int = 4,
        gamma: float = 5.0,
        fat_threshold: float = 0.5,
    ) -> None:
        self.seg_lr = seg_lr
        self.fat_lr = fat_lr
        self.seg_batch_size = seg_batch_size
        self.fat_batch_size = fat_batch_size
        self.gamma = gamma
        self.fat_threshold = fat_threshold
        self.samples_ = SampleSpec("2d", 16)

    def get_params(self) -> dict[str, Any]:
        return {
            "seg_lr": self.seg_lr,
            "fat_lr": self.fat_lr,
            "seg_batch_size": self.seg_batch_size,
            "fat_batch_size": self.fat_batch_size,
            "gamma": self.gamma,
            "fat_threshold": self.fat_threshold,
        }

    # -- fat model ------------------------------------------------------------------------
    def _fat_slices(self, cases: CaseSet, mask: str, muscles: list[int]):
        """Per case: the z-scored slice (normalised as a whole, as at inference) and the
        target (0 outside the reference muscles, 1 muscle, 2 fat)."""
        out = []
        for case_id in cases.case_ids:
            case = cases.dataset.load(case_id, with_maps=False)
            target = np.where(np.isin(case.label, muscles), MUSCLE, IGNORE).astype(np.uint8)
            target[case.masks[mask] & (target == MUSCLE)] = FAT
            out.append((zscore(case.image), target))
        return out

    def _roi_crops(self, slices, crop: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """The muscle ROI of each slice: a ``crop``-sized window centred on the bounding box
        of its reference muscles (the seed trained its FI model on cropped muscle ROIs)."""
        images, targets = [], []
        for image, target in slices:
            rows, cols = np.nonzero(target)
            window = []
            for axis, (lo, hi) in enumerate(((rows.min(), rows.max()), (cols.min(), cols.max()))):
                size, n = crop[axis], target.shape[axis]
                start = int(np.clip((lo + hi + 1) // 2 - size // 2, 0, n - size))
                window.append(slice(start, start + size))
            images.append(image[:, window[0], window[1]])
            targets.append(target[window[0], window[1]])
        return np.stack(images), np.stack(targets)

    @staticmethod
    def _crop_size(slices, margin: int = 8, multiple: int = 16) -> tuple[int, int]:
        """Smallest multiple-of-16 window holding every slice's muscles plus ``margin``."""
        size = []
        for axis in (0, 1):
            extent = max(
                int(np.ptp(np.nonzero(np.any(t > 0, axis=1 - axis))[0])) + 1 for _, t in slices
            )
            n = slices[0][1].shape[axis]
            size.append(min(n - n % multiple, -(-(extent + 2 * margin) // multiple) * multiple))
        return size[0], size[1]

    def _batches(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator | None):
        order = rng.permutation(len(x)) if rng is not None else np.arange(len(x))
        for start in range(0, len(order), self.fat_batch_size):
            index = order[start : start + self.fat_batch_size]
            yield x[index], y[index]

    def _fit_fat(self, train: CaseSet, val: CaseSet, ctx: FitContext):
        spec = ctx.task.masks[0]
        self.mask_ = spec.name
        muscles = [ctx.task.labels[m] for m in spec.within]
        network = _unet(len(ctx.task.channels), 1, ctx.size, "fat")
        train_slices = self._fat_slices(train, spec.name, muscles)
        val_slices = self._fat_slices(val, spec.name, muscles) if len(val) else []
        crop = self._crop_size(train_slices + val_slices)
        train_x, train_y = self._roi_crops(train_slices, crop)
        val_data = self._roi_crops(val_slices, crop) if val_slices else None
        fingerprint = json.dumps(
            {"params": self.get_params(), "size": ctx.size, "seed": ctx.seed,
             "train": train.case_ids, "val": val.case_ids, "model": "fat"},
            sort_keys=True,
        )  # fmt: skip
        config = LoopConfig(
            max_epochs=ctx.epochs,
            patience=ctx.profile.patience,
            lr=self.fat_lr,
            device=ctx.device,
            fingerprint=fingerprint,
        )
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        loop = TrainingLoop(network, MaskedFocalLoss(self.gamma), config, ctx.work_dir / "fat.pt")
        result = loop.run(
            lambda rng: self._batches(train_x, train_y, rng),
            (lambda rng: self._batches(*val_data, None)) if val_data else None,
            seed=ctx.seed + 1,
            on_epoch=ctx.on_epoch,
        )
        self.fat_network_ = loop.network.eval()
        return result

    @torch.no_grad()
    def fat_probability(self, case) -> np.ndarray:
        """Sigmoid fat probability over the whole slice."""
        x = torch.from_numpy(self.samples_.image_samples(zscore(case.image))).to(self.device_)
        with torch.autocast("cuda", torch.float16, enabled=self.device_.startswith("cuda")):
            logits = self.fat_network_(x)
        probability = torch.sigmoid(logits.float()).cpu().numpy()
        return self.samples_.restore(probability, case.image.shape[1:])[0]

    # -- the protocol ---------------------------------------------------------------------
    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        runtime.seed_everything(ctx.seed)
        self.device_ = ctx.device
        self.segmenter_ = structure_network(self.seg_lr, self.seg_batch_size)
        seg = self.segmenter_.fit(
            train, val, dataclasses.replace(ctx, work_dir=ctx.work_dir / "seg")
        )
        fat = self._fit_fat(train, val, ctx)
        return FitReport(
            epochs=(seg.epochs or 0) + fat.epochs,
            best_epoch=seg.best_epoch,
            train_images_per_s=(seg.train_images_per_s + fat.images_per_s) / 2,
            peak_memory_mb=runtime.peak_memory_mb(ctx.device),
        )

    def predict(self, case, ctx: FitContext) -> Prediction:
        probabilities = self.segmenter_.predict_probabilities(case)
        fat = self.fat_probability(case)
        return Prediction(
            label=probabilities.argmax(0).astype(np.uint8),
            probabilities=probabilities,
            masks={self.mask_: fat >= self.fat_threshold},
            mask_probabilities={self.mask_: fat},
        )
