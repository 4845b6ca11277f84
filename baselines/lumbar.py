"""Seed 002's baselines for `lumbar_paraspinal`: the thresholding algorithm (§5.1) and the
cards of both models (torch-free; the dual model lives in `baselines.lumbar_dual`).

Thresholding (the seed's reference method for FI): for each muscle ROI, the Otsu
threshold of its pixel intensities (the threshold minimising the intra-class variance;
256 bins, as OpenCV's on 8-bit images); over the slice's ten muscle thresholds, one outside
mean ± 1.96 SD is replaced by the mean of the other nine; pixels *above* their muscle's
final threshold are fat, the rest muscle. The ROIs are the reference muscles (the seed's
"manual segmentation + thresholding algorithm" group; the model then predicts no label
map, only the fat) or, with ``rois="network"``, the muscles of a segmentation network
trained like ``lumbar_dual``'s.

How the seed's three groups map onto runs: ``lumbar_threshold`` = manual segmentation +
thresholding (``fi_refseg_*`` rows); ``lumbar_dual`` = manual segmentation + FI model
(``fi_refseg_*``) and Seg model + FI model (``fi_*``, plus the structure rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mskbench.harness.models import ModelCard, Prediction

TASKS = ("lumbar_paraspinal",)
_SEED_002 = "Xu et al. 2024, JOR Spine 7(3):e70003, doi:10.1002/jsp2.70003"
ROIS = ("reference", "network")


def otsu_thresholds(
    image: np.ndarray, label: np.ndarray, values: list[int], nbins: int = 256
) -> dict[int, float]:
    """The primary (Otsu) threshold of the pixels of each label value present with at
    least two distinct intensities."""
    from skimage.filters import threshold_otsu

    out = {}
    for value in values:
        pixels = image[label == value]
        if pixels.size and pixels.min() < pixels.max():
            out[value] = float(threshold_otsu(pixels, nbins=nbins))
    return out


def final_thresholds(primary: dict[int, float], outlier_sd: float = 1.96) -> dict[int, float]:
    """§5.1: a threshold outside mean ± ``outlier_sd`` SD (sample SD over all muscles)
    becomes the mean of the other muscles' thresholds; the others are kept."""
    if len(primary) < 3:
        return dict(primary)
    values = np.array(list(primary.values()))
    mean, sd = values.mean(), values.std(ddof=1)
    out = {}
    for value, t in primary.items():
        if abs(t - mean) > outlier_sd * sd:
            others = [u for v, u in primary.items() if v != value]
            out[value] = float(np.mean(others))
        else:
            out[value] = t
    return out


def threshold_fat(
    image: np.ndarray,
    label: np.ndarray,
    values: list[int],
    outlier_sd: float = 1.96,
    nbins: int = 256,
) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """The thresholding algorithm on one slice: ``(fat mask, fat score, final thresholds)``.

    The score (for AUROC) is a logistic of the intensity relative to the muscle's
    threshold, ``1 / (1 + exp(−(I − t) / (0.1 t)))``: 0.5 at the threshold, 0 outside muscles.
    """
    thresholds = final_thresholds(otsu_thresholds(image, label, values, nbins), outlier_sd)
    fat = np.zeros(label.shape, bool)
    score = np.zeros(label.shape, np.float32)
    for value, t in thresholds.items():
        roi = label == value
        fat[roi] = image[roi] > t
        scale = max(abs(t) * 0.1, 1e-6)
        score[roi] = 1.0 / (1.0 + np.exp(-(image[roi] - t) / scale))
    return fat, score, thresholds


class LumbarThreshold:
    """Seed 002 §5.1 thresholding on the reference muscles (or a network's, ``rois``)."""

    def __init__(self, rois: str = "reference", outlier_sd: float = 1.96, nbins: int = 256):
        if rois not in ROIS:
            raise ValueError(f"rois {rois!r} is not one of {ROIS}")
        self.rois = rois
        self.outlier_sd = outlier_sd
        self.nbins = nbins

    def get_params(self) -> dict[str, Any]:
        return {"rois": self.rois, "outlier_sd": self.outlier_sd, "nbins": self.nbins}

    def fit(self, train, val, ctx):
        self.muscles_ = [ctx.task.labels[m] for m in ctx.task.masks[0].within]
        if self.rois == "network":
            from mskbench.baselines.lumbar_dual import structure_network

            self.segmenter_ = structure_network()
            return self.segmenter_.fit(train, val, ctx)
        return None

    def predict(self, case, ctx) -> Prediction:
        image = case.image[0]
        if self.rois == "reference":
            label, probabilities = case.label, None  # the seed's manual segmentation
        else:
            probabilities = self.segmenter_.predict_probabilities(case)
            label = probabilities.argmax(0).astype(np.uint8)
        fat, score, _ = threshold_fat(image, label, self.muscles_, self.outlier_sd, self.nbins)
        mask = ctx.task.masks[0].name
        return Prediction(
            label=None if self.rois == "reference" else label,
            probabilities=probabilities,
            masks={mask: fat},
            mask_probabilities={mask: score},
        )


LUMBAR_THRESHOLD = ModelCard(
    name="lumbar_threshold",
    implementation="mskbench.baselines.lumbar:LumbarThreshold",
    description=(
        "Seed 002 §5.1 thresholding: Otsu threshold per muscle ROI, outliers beyond "
        "mean ± 1.96 SD replaced by the mean of the others; on the reference muscles "
        "(manual segmentation + thresholding; predicts the fat mask only)."
    ),
    tasks=TASKS,
    hyperparameters={"rois": "reference", "outlier_sd": 1.96, "nbins": 256},
    citation=f"Otsu 1979, IEEE Trans Syst Man Cybern 9:62; as used in {_SEED_002}",
)

LUMBAR_DUAL = ModelCard(
    name="lumbar_dual",
    implementation="mskbench.baselines.lumbar_dual:LumbarDual",
    description=(
        "Seed 002's dual model: structure segmentation network (2D U-Net, instances = "
        "connected components per label, score = mean softmax) + fat U-Net trained with a "
        "focal loss (γ = 5) on the reference muscle ROIs."
    ),
    tasks=TASKS,
    hyperparameters={
        "seg_lr": 5e-3,
        "fat_lr": 2e-3,
        "seg_batch_size": 2,
        "fat_batch_size": 4,
        "gamma": 5.0,
        "fat_threshold": 0.5,
    },
    citation=_SEED_002,
    details={
        "structure network": "2D U-Net (MONAI DynUNet, batch norm), Dice + CE; widths "
        "16-256 (smoke, quick), 64-1024 (paper)",
        "fat network": "2D U-Net with one sigmoid output, MONAI FocalLoss γ = 5 over the "
        "reference muscle pixels of muscle-ROI crops, same widths",
        "deviation": (
            "semantic U-Net + connected components instead of the seed's Cascade Mask R-CNN "
            "(ResNet-101 + FPN, COCO-pretrained): no weights may be downloaded and a detector "
            "trained from scratch exceeds the CPU budget; each structure occurs once per side "
            "per slice, so the components are the instances a detector would give"
        ),
    },
)
