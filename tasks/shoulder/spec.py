"""`shoulder_supraspinatus`: supraspinatus segmentation and Goutallier fatty-infiltration
grading on one sagittal-oblique T2-weighted "Y-view" slice per shoulder.

Seed 000 — Saavedra et al., Front Med 2024;11:1416169 ("Automated segmentation and
classification of supraspinatus fatty infiltration in shoulder magnetic resonance image
using a convolutional neural network"). 606 T2-weighted Y-view images of one site,
exported from DICOM to PNG, each with a supraspinatus mask (ITK-SNAP) and a Goutallier
grade by one radiologist: 403 / 114 / 51 / 24 / 14 images of grades 0–4. Two steps: a
U-Net segments the supraspinatus (Dice loss, Adam, lr 1e-3, batch 8, ≤ 50 epochs, 224 ×
224 input); the image is cropped to the predicted mask's bounding box, resized to 224 × 224
and a VGG-19 (ImageNet weights, only the classifier trained, lr 1e-5, oversampling of the
minority class, early stopping after 10 epochs without improvement) classifies "risky"
(grades 3–4) against "not risky" (0–1); grade-2 images are left out of the binary task.
5-fold cross-validation stratified by class, the same folds for both steps; every number
is the mean over the 5 validation folds with its 95 % confidence interval.

The seed's numbers (abstract and text; Tables 2–4 are images) and the values taken here:

* segmentation: Dice 0.9441 ± 0.0031, pixel accuracy 0.9977 ± 0.0002 (abstract). The
  Methods call these "(CI. 95%)"; the Results text gives the Dice's spread as a "standard
  deviation of 0.0035" and the accuracy's as 0.003. We take the abstract's numbers as 95 %
  CI half-widths, as the Methods state, and note the text's.
* classification (U-Net + VGG-19, Table 3): accuracy 0.9731 ± 0.0230, sensitivity 0.9000
  ± 0.0980, specificity 0.9788 ± 0.0257, AUROC 0.9903 ± 0.0092, CI half-widths (the text
  has "90% with 0.98 95% CI", a slip for 0.098, and calls the specificity "sensitivity").

mskbench's additions: the ordinal grade itself (quadratic-weighted kappa, per-grade
confusion table), the binary cuts a related study reports (0–1 vs 2–4, 0–1 vs 2), derived
from a model's grade probabilities when it predicts them, and a second site as an external
test set (the seed is single-site).
"""

from __future__ import annotations

from mskbench.tasks.spec import (
    Citation,
    MapSpec,
    ProfileSpec,
    PublishedValue,
    SplitProtocol,
    TaskSpec,
)
from mskbench.tasks.targets import ClassificationTarget, SegmentationTarget, SeriesSpec

SAAVEDRA_2024 = Citation(
    authors="Saavedra JP",  # first author; the seed text names no authors
    title=(
        "Automated segmentation and classification of supraspinatus fatty infiltration in "
        "shoulder magnetic resonance image using a convolutional neural network"
    ),
    journal="Front Med 11:1416169",
    year=2024,
    doi="10.3389/fmed.2024.1416169",
    seed_file="000_89739f519796ed6c.txt",
)

GRADES = ("0", "1", "2", "3", "4")
#: Seed Table 1: images per Goutallier grade 0–4 (606 in all).
SEED_GRADE_COUNTS = (403, 114, 51, 24, 14)

GOUTALLIER = ClassificationTarget(
    "goutallier",
    "goutallier",
    "ordinal",
    GRADES,
    description="Goutallier grade 0-4 of the supraspinatus (mskbench's addition: the seed "
    "reports the binary view only)",
    ci="folds",
)


def _view(name: str, positive: tuple[str, ...], excluded: tuple[str, ...], note: str):
    return ClassificationTarget(
        name, "goutallier", "binary", GRADES,
        positive=positive, negative=("0", "1"), excluded=excluded,
        description=note, ci="folds", derived_from="goutallier",
    )  # fmt: skip


RISKY = _view("risky", ("3", "4"), ("2",), "seed 000's task: risky (3-4) vs not risky (0-1)")
GRADE_2_4 = _view("grade_2_4", ("2", "3", "4"), (), "0-1 vs 2-4 (a related study's cut)")
GRADE_2 = _view("grade_2", ("2",), ("3", "4"), "0-1 vs 2, the hard cut (a related study's)")

SPLIT = SplitProtocol(
    kind="kfold",
    n_folds=5,
    group_by="subject_id",
    stratify_by="goutallier",
    val_fraction=0.1,
    external_site="B",
    description=(
        "5-fold cross-validation stratified by Goutallier grade, one image per shoulder; the "
        "same folds for segmentation and classification; 10 % of the training images "
        "validate for early stopping; site-B images are an external test set (an mskbench "
        "addition: the seed is single-site)."
    ),
)

METRICS = (
    "dice",
    "pixel_accuracy",
    "hd95",
    "auroc",
    "accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "kappa",
    "qwk",
    "mae_classes",
    "macro_auroc",
)

_SEED_MODEL = "shoulder_unet_vgg19"
_CLASSIFICATION = {  # Table 3: value, 95 % CI half-width over the 5 folds
    "accuracy": (0.9731, 0.0230),
    "sensitivity": (0.9000, 0.0980),
    "specificity": (0.9788, 0.0257),
    "auroc": (0.9903, 0.0092),
}
_SEGMENTATION = {"dice": (0.9441, 0.0031), "pixel_accuracy": (0.9977, 0.0002)}  # Table 2
#: Images of grades 0-1 and 3-4 in the seed's binary task.
_N_BINARY = sum(SEED_GRADE_COUNTS) - SEED_GRADE_COUNTS[2]


def _published() -> tuple[PublishedValue, ...]:
    rows = [
        PublishedValue("Table 2 (abstract)", "shoulder_unet", metric, value,
                       ci_low=value - half, ci_high=value + half, n=sum(SEED_GRADE_COUNTS))
        for metric, (value, half) in _SEGMENTATION.items()
    ]  # fmt: skip
    rows += [
        PublishedValue("Table 3 (abstract)", _SEED_MODEL, metric, value, target="risky",
                       ci_low=value - half, ci_high=value + half, n=_N_BINARY)
        for metric, (value, half) in _CLASSIFICATION.items()
    ]  # fmt: skip
    return tuple(rows)


def _profiles() -> dict[str, ProfileSpec]:
    def phantom(counts: tuple[int, ...], n_external: int, size: int) -> dict:
        return {
            "grade_counts": counts,
            "n_external": n_external,
            "shape": (size, size),
            "pixel_mm": 150.0 / size,
        }

    return {
        "smoke": ProfileSpec(
            "smoke",
            "CI: 31 + 5 external images (grades 10/6/5/5/5, 96 × 96), fold 0, 2 epochs",
            phantom=phantom((10, 6, 5, 5, 5), 5, 96),
            folds=(0,),
            max_epochs=2,
            patience=2,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 200 + 30 external images in the seed's grade proportions "
            "(133/38/17/8/4, 128 × 128), all 5 folds, ≤ 20 epochs",
            phantom=phantom((133, 38, 17, 8, 4), 30, 128),
            folds=None,
            max_epochs=20,
            patience=10,
        ),
        "paper": ProfileSpec(
            "paper",
            "seed protocol: the seed's 606 images (403/114/51/24/14, 224 × 224) + 60 "
            "external, 5 folds, ≤ 50 epochs, early stopping (patience 10)",
            phantom=phantom(SEED_GRADE_COUNTS, 60, 224),
            folds=None,
            max_epochs=50,
            patience=10,
        ),
    }


SHOULDER_SUPRASPINATUS = TaskSpec(
    name="shoulder_supraspinatus",
    version=1,
    title="Supraspinatus segmentation and Goutallier fatty-infiltration grade (T2w Y-view)",
    citation=SAAVEDRA_2024,
    anatomy="shoulder, sagittal-oblique Y-view",
    protocol=SPLIT.description,
    series=(SeriesSpec("sagittal", ("T2w",), 2, "sagittal-oblique T2-weighted Y-view slice"),),
    targets=(
        SegmentationTarget(labels={"background": 0, "SSP": 1}),
        GOUTALLIER,
        RISKY,
        GRADE_2_4,
        GRADE_2,
    ),
    split=SPLIT,
    metrics=METRICS,
    primary_metric="dice",
    maps=(MapSpec("ff", "%", "fat fraction 0-100 % (known to the phantom)", required=False),),
    case_columns=("sex", "age"),
    published=_published(),
    phantom="mskbench.tasks.shoulder.phantom:generate",
    profiles=_profiles(),
    nsd_tolerance_mm=2.0,
    summary_ci="folds",  # the seed's "95 % CI over the five folds"
)
