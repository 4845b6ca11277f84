"""Seed 000's models for `shoulder_supraspinatus` (imports torch).

* `ShoulderUnetVgg19` — the seed's two steps: a U-Net segments the supraspinatus
  (`NetworkSegmenter`, Dice loss, Adam 1e-3, batch 8); the image is cropped to the box of
  the *predicted* mask and the VGG-19 (`CropClassifier`) scores "risky" (Goutallier 3–4
  vs 0–1; grade-2 images are left out of its training, as in the seed). The classifier is
  trained on crops of the U-Net's own predictions on the training images, as the seed did.
* `ShoulderVgg19RefRoi` — the same classifier on crops of the *reference* mask: the seed's
  comparison arm (manual ROI) and the ceiling of the two-step model. It predicts no label
  map.

Both predict the ``risky`` score only; the other targets (the grade and its other cuts)
have no rows for them — they do not grade.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from mskbench.baselines.segmenter import NetworkSegmenter
from mskbench.baselines.shoulder.classifier import CROP_SIZE, CropClassifier
from mskbench.baselines.shoulder.crops import crop
from mskbench.harness.models.protocol import CaseSet, FitContext, FitReport
from mskbench.harness.training import runtime
from mskbench.tasks.case import Case, Prediction

TARGET = "risky"


def _training_crops(
    cases: CaseSet, ctx: FitContext, mask_of: Any
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Crops and 0/1 labels of the cases with a risky or not-risky grade (grade 2 and
    missing grades left out); ``mask_of(case)`` gives the ROI mask."""
    target = ctx.task.target(TARGET)
    size = CROP_SIZE[ctx.size]
    crops, labels, ids = [], [], []
    for case_id in cases.case_ids:
        case = cases.dataset.load(case_id, with_maps=False)
        outcome = target.outcome(case.targets.get(TARGET))
        if outcome is None:
            continue
        crops.append(crop(case.image[0], mask_of(case), size))
        labels.append(outcome)
        ids.append(case_id)
    shape = (0, size, size)
    return (np.stack(crops) if crops else np.empty(shape, np.float32)), np.array(labels), ids


def _fit_classifier(
    classifier: CropClassifier,
    train: CaseSet,
    val: CaseSet,
    ctx: FitContext,
    mask_of: Any,
    identity: dict[str, Any],
) -> Any:
    """Train ``classifier`` on the crops that ``mask_of(case)`` gives (checkpoints under
    ``work_dir/vgg19``); ``identity`` and the training ids key the resumable checkpoint."""
    train_x, train_y, ids = _training_crops(train, ctx, mask_of)
    val_x, val_y, _ = _training_crops(val, ctx, mask_of)
    return classifier.fit(
        (train_x, train_y), (val_x, val_y), ctx, ctx.work_dir / "vgg19", {**identity, "train": ids}
    )


def _report(results: list[Any], ctx: FitContext) -> FitReport:
    """One report of the loops a model ran: epochs summed, images/s over all of them."""
    images = sum(r.train_images for r in results)
    seconds = sum(r.train_seconds for r in results)
    return FitReport(
        epochs=sum(r.epochs for r in results),
        best_epoch=results[-1].best_epoch,
        train_images_per_s=images / seconds if seconds > 0 else None,
        peak_memory_mb=runtime.peak_memory_mb(ctx.device),
    )


class ShoulderVgg19RefRoi:
    """VGG-19 on crops of the reference supraspinatus mask (see the module docstring)."""

    def __init__(self, lr: float = 1e-4, batch_size: int = 8) -> None:
        self.lr = lr
        self.batch_size = batch_size

    def get_params(self) -> dict[str, Any]:
        return {"lr": self.lr, "batch_size": self.batch_size}

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        runtime.seed_everything(ctx.seed)
        runtime.reset_peak_memory(ctx.device)

        def reference(case: Case) -> np.ndarray:
            return case.label > 0

        identity = {"model": "vgg19_refroi", **self.get_params(), "seed": ctx.seed}
        self.classifier_ = CropClassifier(self.lr, self.batch_size)
        result = _fit_classifier(self.classifier_, train, val, ctx, reference, identity)
        self.size_ = ctx.size
        return _report([result], ctx)

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        roi = crop(case.image[0], case.label > 0, CROP_SIZE[self.size_])
        return Prediction(scores={TARGET: self.classifier_.probability(roi)})


class ShoulderUnetVgg19:
    """U-Net, then VGG-19 on the predicted mask's crop (see the module docstring)."""

    def __init__(self, seg_lr: float = 1e-3, cls_lr: float = 1e-4, batch_size: int = 8) -> None:
        self.seg_lr = seg_lr
        self.cls_lr = cls_lr
        self.batch_size = batch_size

    def get_params(self) -> dict[str, Any]:
        return {"seg_lr": self.seg_lr, "cls_lr": self.cls_lr, "batch_size": self.batch_size}

    def fit(self, train: CaseSet, val: CaseSet, ctx: FitContext) -> FitReport:
        runtime.seed_everything(ctx.seed)
        runtime.reset_peak_memory(ctx.device)
        self.segmenter_ = NetworkSegmenter(
            "smp_unet", mode="2d", loss="dice", lr=self.seg_lr, batch_size=self.batch_size
        )
        seg_ctx = replace(ctx, work_dir=ctx.work_dir / "unet", weights=None)
        seg_report = self.segmenter_.fit(train, val, seg_ctx)

        def predicted(case: Case) -> np.ndarray:
            return self.segmenter_.predict(case, seg_ctx).label > 0

        identity = {"model": "unet_vgg19", **self.get_params(), "seed": ctx.seed}
        self.classifier_ = CropClassifier(self.cls_lr, self.batch_size)
        result = _fit_classifier(self.classifier_, train, val, ctx, predicted, identity)
        self.size_ = ctx.size
        report = _report([result], ctx)
        return replace(report, epochs=(seg_report.epochs or 0) + result.epochs)

    def predict(self, case: Case, ctx: FitContext) -> Prediction:
        segmentation = self.segmenter_.predict(case, ctx)
        roi = crop(case.image[0], segmentation.label > 0, CROP_SIZE[self.size_])
        return Prediction(
            label=segmentation.label,
            probabilities=segmentation.probabilities,
            scores={TARGET: self.classifier_.probability(roi)},
        )
