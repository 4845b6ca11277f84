"""`sij_threshold`: the torch-free floor of `sij_fat_metaplasia` — bright voxels near the joints.

Fat metaplasia is bright on T1, so the floor marks voxels brighter than a cut inside a
region where FM can occur; nothing is learnt from pixels beyond two numbers:

1. intensities are divided by the volume's 99th percentile (fat sets the top of the
   histogram on T1, so the cut is a fraction of fat's signal);
2. the region is where FM occurred in the training references: the in-plane share of
   training volumes with FM at each pixel (any slice), smoothed (σ = 2 px), above a
   cut — a spatial prior of both joints, estimated without the test case's reference;
3. the intensity cut and the prior cut are the pair (from a grid) with the highest mean
   Dice over the training and validation volumes.

Yellow-marrow islands, fat in the sacral foramina and in the ligamentous joint,
intermuscular fat, oedema that dims FM, the receive field and partial volume all defeat
it; if this floor came near the networks, the phantom would be too easy (issue 14).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mskbench.harness.models import ModelCard, Prediction

TASKS = ("sij_fat_metaplasia", "sij_axspa")
_SEED_004 = "Li et al. 2024, Insights Imaging 15:93, doi:10.1186/s13244-024-01659-y"
INTENSITY_CUTS = tuple(np.round(np.arange(0.30, 1.001, 0.025), 3))
PRIOR_CUTS = (0.01, 0.03, 0.06, 0.1, 0.2)


def normalised(image: np.ndarray) -> np.ndarray:
    """``image`` divided by its 99th percentile (1 where it is constant zero)."""
    top = float(np.percentile(image, 99))
    return image / top if top > 0 else np.ones_like(image)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean arrays; 1 when both are empty."""
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * float(np.logical_and(a, b).sum()) / total


def fm_prior(labels: list[np.ndarray], sigma_px: float = 2.0) -> np.ndarray:
    """Share of ``labels`` (``(z, y, x)``, one in-plane grid) with FM at each ``(y, x)``
    on any slice, smoothed with a Gaussian of ``sigma_px`` pixels."""
    from scipy import ndimage

    share = np.mean([lab.any(axis=0) for lab in labels], axis=0).astype(np.float32)
    return ndimage.gaussian_filter(share, sigma_px)


class SijThreshold:
    """Intensity cut inside a spatial prior of FM (see the module docstring)."""

    def __init__(self, sigma_px: float = 2.0) -> None:
        self.sigma_px = sigma_px

    def get_params(self) -> dict[str, Any]:
        return {"sigma_px": self.sigma_px}

    def fit(self, train, val, ctx):
        images, labels = [], []
        for case_id in [*train.case_ids, *val.case_ids]:
            case = train.dataset.load(case_id, with_maps=False)
            images.append(normalised(case.image[0].astype(np.float32)))
            labels.append(case.label > 0)
        shapes = {lab.shape[1:] for lab in labels}
        if len(shapes) != 1:
            raise ValueError(f"sij_threshold needs one in-plane grid, got {sorted(shapes)}")
        self.prior_ = fm_prior(labels, self.sigma_px)
        best = (-1.0, INTENSITY_CUTS[0], PRIOR_CUTS[0])
        for prior_cut in PRIOR_CUTS:
            region = self.prior_ > prior_cut
            for cut in INTENSITY_CUTS:
                score = float(
                    np.mean(
                        [
                            dice((im > cut) & region, lab)
                            for im, lab in zip(images, labels, strict=True)
                        ]
                    )
                )
                if score > best[0]:
                    best = (score, cut, prior_cut)
        self.train_dice_, self.cut_, self.prior_cut_ = best
        return None

    def predict(self, case, ctx) -> Prediction:
        image = normalised(case.image[0].astype(np.float32))
        if image.shape[1:] != self.prior_.shape:
            raise ValueError(
                f"{case.case_id}: in-plane grid {image.shape[1:]} differs from the training "
                f"grid {self.prior_.shape}"
            )
        label = ((image > self.cut_) & (self.prior_ > self.prior_cut_)).astype(np.uint8)
        return Prediction(label=label)


SIJ_THRESHOLD = ModelCard(
    name="sij_threshold",
    implementation="mskbench.baselines.sij:SijThreshold",
    description=(
        "Torch-free floor: voxels above a fraction of the volume's 99th-percentile "
        "intensity inside a spatial prior of FM from the training references; both cuts "
        "chosen for the best training Dice"
    ),
    tasks=TASKS,
    hyperparameters={"sigma_px": 2.0},
    citation=f"floor for {_SEED_004}",
)
SIJ_TWO_STAGE = ModelCard(
    name="sij_two_stage",
    implementation="mskbench.baselines.sij_two_stage:SijTwoStage",
    description=(
        "Seed 004's classifier: a catalog segmenter (default sij_attention25d) predicts FM, "
        "a ResNet-18 over slices (max-pooled) scores axSpA from the image plus the predicted "
        "FM probability map; training maps are out-of-fold (two cross-fitted segmenters)"
    ),
    tasks=("sij_axspa",),
    hyperparameters={"segmenter": "sij_attention25d", "lr": 1e-3, "batch_size": 4, "slices": 16},
    citation=_SEED_004,
    details={
        "stage 1": "NetworkSegmenter with the segmenter card's setup, one per half of training",
        "stage 2": "torchvision resnet18(weights=None), 2 input channels, max over slices",
        "--weights": "local state dict of the stage-1 network (both halves start from it)",
    },
    spatial_dims=(3,),
)
