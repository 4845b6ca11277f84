"""`lumbar_paraspinal`: lumbar structures and intramuscular fat on axial T2 slices.

Seed 002 — Xu et al., JOR Spine 2024;7(3):e70003. 417 patients with lumbar disc
herniation, one axial T2-weighted FSE slice through the middle of each of the L2/L3,
L3/L4 and L4/L5 discs (1.5 T, TE 120–125 ms, TR 3600–4000 ms, 512 × 512, FOV 200 mm,
4.5 mm slices); a 7:3 random split of patients (292 train/validation, 125 internal test)
and 50 patients of another hospital as the external test set. Targets: intervertebral
disc (IVD), vertebral arch (VA) and left/right psoas major (PM), quadratus lumborum (QL),
iliocostalis (IL), longissimus (LO) and multifidus (MF); and the intramuscular fat inside
the muscles. Models: a Cascade Mask R-CNN for the structures and a U-Net trained with a
focal loss (γ = 5) for the fat. Scores: DSC, recall and AP of instances at IoU 0.75 per
structure (Table 2); fat-pixel recall, specificity, precision, F1, Cohen's kappa and AUC
(Table 3); rCSA = muscle tCSA / disc tCSA (Table 4) and FI = fat area / muscle area
(Table 5) against the reference, by MAPE and MSE, in three groups (manual segmentation +
thresholding, manual segmentation + FI model, Seg model + FI model).

How the groups map onto mskbench runs: a prediction holds a label map and a ``fat`` mask;
`tasks.lumbar.evaluator.evaluate_case` measures FI of the predicted fat both inside the
predicted muscles (``fi_*``: "Seg model + FI model") and inside the reference muscles
(``fi_refseg_*``: "manual segmentation + fat model"). A model that predicts the fat only
(no label map, e.g. ``lumbar_threshold`` on the reference ROIs) gets the latter. So
``lumbar_threshold`` gives group 1, ``lumbar_dual`` groups 2 and 3.
"""

from __future__ import annotations

from mskbench.harness.metrics.catalog import MetricInfo
from mskbench.tasks.spec import (
    Citation,
    ProfileSpec,
    PublishedValue,
    SplitProtocol,
    Stratum,
    TaskSpec,
)
from mskbench.tasks.targets import MaskTarget, SegmentationTarget, SeriesSpec

XU_2024 = Citation(
    authors="Xu Y, Zheng S, Tian Q, Kou Z, Li W, Xie X, Wu X",
    title=(
        "Deep learning-based structure segmentation and intramuscular fat annotation on "
        "lumbar magnetic resonance imaging"
    ),
    journal="JOR Spine 7(3):e70003",
    year=2024,
    doi="10.1002/jsp2.70003",
    seed_file="002_04f8bc17224356f0.txt",
)

LEVELS = ("L2/L3", "L3/L4", "L4/L5")
MUSCLES = ("PM", "QL", "IL", "LO", "MF")
MUSCLE_LABELS = tuple(f"{m}_{side}" for m in MUSCLES for side in ("L", "R"))
STRUCTURES = ("IVD", "VA", *MUSCLE_LABELS)
#: Table 2's row order.
TABLE2_STRUCTURES = ("IVD", "PM", "QL", "IL", "LO", "MF", "VA")

FAT = MaskTarget(
    "fat",
    "intramuscular fat: muscle pixels the rater marked as fat (seed: 3D Slicer paint, "
    "2.0 mm brush, fat inside muscles only; fat outside or between muscles is not marked)",
    within=MUSCLE_LABELS,
)

G20 = Stratum(
    name="G20", attribute="fi_ref", threshold=0.20, unit="fraction", below="G20-",
    at_or_above="G20+",
)  # fmt: skip

#: The seed's 7:3 split of 417 patients was 292 / 125. scikit-learn rounds the test count
#: up (0.3 × 417 → 126), so the fraction sits just below 125 / 417; quick (40 patients) and
#: smoke (8) still test 12 and 3.
TEST_FRACTION = 0.2997

SPLIT = SplitProtocol(
    kind="holdout",
    test_fraction=TEST_FRACTION,
    group_by="subject_id",
    val_fraction=0.1,
    external_site="B",
    description=(
        "7:3 random split of patients (a patient's three levels stay together): 70 % "
        "train/validation, 30 % internal test; 10 % of the training patients validate for "
        "early stopping; site-B patients are the external test set (seed: 292 / 125 "
        "patients + 50 external)."
    ),
)

#: Per-case rows of the task's evaluator (`mskbench.tasks.lumbar.evaluator`): a mean of
#: ``*_ape`` rows over cases is the MAPE, of ``*_se`` rows the MSE.
TASK_METRICS = (
    MetricInfo("rcsa_ref", None, "fraction", "rCSA of the reference muscle (muscle / disc tCSA)"),
    MetricInfo("rcsa_pred", None, "fraction", "rCSA of the predicted muscle and disc"),
    MetricInfo("rcsa_ape", False, "%", "absolute percentage error of rCSA; mean = MAPE"),
    MetricInfo("rcsa_se", False, "fraction²", "squared error of rCSA; mean = MSE"),
    MetricInfo("fi_ref", None, "fraction", "FI of the reference fat mask in the reference muscle"),
    MetricInfo("fi_pred", None, "fraction", "FI of the predicted fat mask in the predicted muscle"),
    MetricInfo("fi_ape", False, "%", "absolute percentage error of fi_pred; mean = MAPE"),
    MetricInfo("fi_se", False, "fraction²", "squared error of fi_pred; mean = MSE"),
    MetricInfo(
        "fi_refseg", None, "fraction",
        "FI of the predicted fat mask in the reference muscle (manual segmentation)",
    ),
    MetricInfo("fi_refseg_ape", False, "%", "absolute percentage error of fi_refseg; mean = MAPE"),
    MetricInfo("fi_refseg_se", False, "fraction²", "squared error of fi_refseg; mean = MSE"),
)  # fmt: skip

METRICS = (
    "dice",
    "instance_recall",
    "average_precision",
    "sensitivity",
    "specificity",
    "ppv",
    "f1",
    "kappa",
    "auroc",
    "rcsa_ape",
    "rcsa_se",
    "fi_ape",
    "fi_se",
    "fi_refseg_ape",
    "fi_refseg_se",
    "hd95",
    "assd",
)

_SEG, _FI, _THRESHOLD, _REFERENCE, _RATER = (
    "lumbar_dual",
    "lumbar_dual",
    "lumbar_threshold",
    "reference",
    "rater",
)
_SPLIT_NAME = {"test": "internal test set", "external": "external test set"}

# Table 2: (DSC mean, SD, recall %, AP) per structure; rater internal has no AP.
_TABLE2 = {
    ("rater", "test"): {
        "IVD": (0.97, 0.05, 100.00, None), "PM": (0.94, 0.07, 99.55, None),
        "QL": (0.93, 0.09, 95.09, None), "IL": (0.90, 0.10, 92.49, None),
        "LO": (0.89, 0.09, 79.64, None), "MF": (0.88, 0.08, 86.98, None),
        "VA": (0.95, 0.06, 95.73, None), "all": (0.93, 0.08, 93.29, None),
    },
    ("model", "test"): {
        "IVD": (0.97, 0.03, 100.00, 1.00), "PM": (0.95, 0.06, 99.42, 1.00),
        "QL": (0.92, 0.10, 94.57, 0.99), "IL": (0.91, 0.06, 95.16, 0.97),
        "LO": (0.88, 0.09, 77.90, 0.86), "MF": (0.91, 0.08, 92.05, 0.97),
        "VA": (0.90, 0.05, 93.02, 0.97), "all": (0.92, 0.10, 92.60, 0.98),
    },
    ("model", "external"): {
        "IVD": (0.97, 0.02, 100.00, 1.00), "PM": (0.95, 0.05, 99.62, 1.00),
        "QL": (0.91, 0.09, 93.46, 0.98), "IL": (0.91, 0.06, 93.46, 0.97),
        "LO": (0.88, 0.10, 73.46, 0.80), "MF": (0.90, 0.08, 88.46, 0.95),
        "VA": (0.90, 0.05, 92.31, 0.96), "all": (0.91, 0.09, 90.77, 0.98),
    },
}  # fmt: skip

# Table 3 (FI model, %) and the AUCs of the text / Fig. 5.
_TABLE3 = {
    "test": {"sensitivity": 91.30, "specificity": 90.80, "ppv": 74.27, "f1": 82.0,
             "kappa": 76.0, "auroc": 97.0},
    "external": {"sensitivity": 89.42, "specificity": 84.08, "ppv": 57.67, "f1": 70.0,
                 "kappa": 61.0, "auroc": 93.0},
}  # fmt: skip

# Table 4: standard and Seg-model rCSA (mean, SD) per level, MSE and MAPE (%) of total.
_TABLE4 = {
    "test": {
        "PM": (((0.80, 0.17), (0.88, 0.17), (0.95, 0.18)),
               ((0.78, 0.16), (0.86, 0.17), (0.94, 0.16)), 0.0019, 5.44),
        "QL": (((0.27, 0.09), (0.29, 0.09), (0.32, 0.10)),
               ((0.26, 0.09), (0.28, 0.09), (0.31, 0.08)), 0.0010, 8.42),
        "IL": (((0.75, 0.16), (0.70, 0.16), (0.55, 0.14)),
               ((0.73, 0.15), (0.67, 0.14), (0.52, 0.13)), 0.0048, 7.72),
        "LO": (((0.48, 0.10), (0.39, 0.09), (0.34, 0.10)),
               ((0.45, 0.09), (0.37, 0.09), (0.35, 0.08)), 0.0030, 10.89),
        "MF": (((0.23, 0.07), (0.32, 0.08), (0.52, 0.08)),
               ((0.22, 0.06), (0.29, 0.06), (0.49, 0.07)), 0.0019, 9.98),
    },
    "external": {
        "PM": (((0.79, 0.18), (0.86, 0.16), (0.97, 0.17)),
               ((0.78, 0.17), (0.84, 0.16), (0.96, 0.16)), 0.0027, 5.87),
        "QL": (((0.27, 0.09), (0.29, 0.10), (0.33, 0.10)),
               ((0.26, 0.08), (0.28, 0.08), (0.32, 0.09)), 0.0014, 9.08),
        "IL": (((0.76, 0.17), (0.70, 0.15), (0.58, 0.14)),
               ((0.74, 0.14), (0.64, 0.14), (0.58, 0.13)), 0.0056, 8.16),
        "LO": (((0.50, 0.09), (0.41, 0.09), (0.37, 0.10)),
               ((0.47, 0.08), (0.40, 0.08), (0.37, 0.10)), 0.0036, 12.10),
        "MF": (((0.23, 0.07), (0.33, 0.07), (0.53, 0.08)),
               ((0.20, 0.06), (0.30, 0.06), (0.49, 0.07)), 0.0025, 11.03),
    },
}  # fmt: skip

# Table 5: standard FI, then (FI, SD, MAPE %) of FI model, thresholding, Seg + FI model.
_TABLE5 = {
    "test": {
        "PM": ((0.19, 0.05), (0.23, 0.09, 24.05), (0.27, 0.12, 49.97), (0.24, 0.10, 30.62)),
        "QL": ((0.16, 0.04), (0.21, 0.08, 35.22), (0.24, 0.11, 57.26), (0.22, 0.08, 42.14)),
        "IL": ((0.25, 0.05), (0.30, 0.07, 22.39), (0.35, 0.12, 47.55), (0.30, 0.09, 27.96)),
        "LO": ((0.24, 0.05), (0.31, 0.10, 33.19), (0.37, 0.11, 62.42), (0.34, 0.10, 44.18)),
        "MF": ((0.30, 0.06), (0.36, 0.09, 28.65), (0.43, 0.10, 50.79), (0.38, 0.10, 30.87)),
    },
    "external": {
        "PM": ((0.18, 0.05), (0.25, 0.09, 44.79), (0.27, 0.10, 55.81), (0.26, 0.10, 54.97)),
        "QL": ((0.15, 0.04), (0.22, 0.10, 50.69), (0.22, 0.10, 55.76), (0.23, 0.10, 57.06)),
        "IL": ((0.23, 0.05), (0.30, 0.08, 35.15), (0.34, 0.12, 54.83), (0.32, 0.09, 45.46)),
        "LO": ((0.23, 0.06), (0.32, 0.12, 45.24), (0.36, 0.13, 65.98), (0.33, 0.13, 49.42)),
        "MF": ((0.28, 0.04), (0.37, 0.10, 38.62), (0.40, 0.13, 49.12), (0.37, 0.11, 42.79)),
    },
}  # fmt: skip


def _published() -> tuple[PublishedValue, ...]:
    """Seed Tables 2–5 (rates in %, the seed's recall as a fraction for instance_recall)."""
    rows: list[PublishedValue] = []

    def add(table: str, split: str, model: str, metric: str, value: float, **kw) -> None:
        source = f"{table}, {_SPLIT_NAME[split]}"
        rows.append(PublishedValue(source, model, metric, value, group=split, **kw))

    for (who, split), by_structure in _TABLE2.items():
        model = _RATER if who == "rater" else _SEG
        for structure, (dsc, sd, recall, ap) in by_structure.items():
            add("Table 2", split, model, "dice", dsc, sd=sd, structure=structure)
            add("Table 2", split, model, "instance_recall", recall / 100, structure=structure)
            if ap is not None:
                add("Table 2", split, model, "average_precision", ap, structure=structure)
    for split, values in _TABLE3.items():
        for metric, value in values.items():
            add("Table 3", split, _FI, metric, value / 100)
    for split, by_muscle in _TABLE4.items():
        for muscle, (standard, model, mse, mape) in by_muscle.items():
            for level, (ref, pred) in zip(LEVELS, zip(standard, model, strict=True), strict=True):
                subset = (("level", level),)
                add("Table 4", split, _REFERENCE, "rcsa_ref", ref[0], sd=ref[1],
                    structure=muscle, subset=subset)  # fmt: skip
                add("Table 4", split, _SEG, "rcsa_pred", pred[0], sd=pred[1],
                    structure=muscle, subset=subset)  # fmt: skip
            add("Table 4", split, _SEG, "rcsa_se", mse, structure=muscle)
            add("Table 4", split, _SEG, "rcsa_ape", mape, structure=muscle)
    for split, by_muscle in _TABLE5.items():
        for muscle, (standard, fi_model, threshold, seg_fi) in by_muscle.items():
            add("Table 5", split, _REFERENCE, "fi_ref", standard[0], sd=standard[1],
                structure=muscle)  # fmt: skip
            for model, metric, (fi, sd, mape) in (
                (_FI, "fi_refseg", fi_model),
                (_THRESHOLD, "fi_refseg", threshold),
                (_SEG, "fi", seg_fi),
            ):
                value_metric = "fi_pred" if metric == "fi" else metric
                add("Table 5", split, model, value_metric, fi, sd=sd, structure=muscle)
                add("Table 5", split, model, f"{metric}_ape", mape, structure=muscle)
    return tuple(rows)


def _profiles() -> dict[str, ProfileSpec]:
    def phantom(n_subjects: int, n_external: int, size: int) -> dict:
        return {
            "n_subjects": n_subjects,
            "n_external": n_external,
            "shape": (size, size),
            "pixel_mm": 200.0 / size,
        }

    return {
        "smoke": ProfileSpec(
            "smoke",
            "CI: 8 + 2 external patients × 3 levels (96 × 96, 2.1 mm), 2 epochs",
            phantom=phantom(8, 2, 96),
            max_epochs=2,
            patience=2,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 40 + 10 external patients × 3 levels (128 × 128, 1.56 mm), ≤ 30 epochs",
            phantom=phantom(40, 10, 128),
            max_epochs=30,
            patience=8,
        ),
        "paper": ProfileSpec(
            "paper",
            "seed protocol: 417 patients (292 / 125) + 50 external × 3 levels "
            "(512 × 512, 200 mm FOV), early stopping (patience 10)",
            phantom=phantom(417, 50, 512),
            max_epochs=200,
            patience=10,
        ),
    }


LUMBAR_PARASPINAL = TaskSpec(
    name="lumbar_paraspinal",
    version=1,
    title="Lumbar structures and intramuscular fat on axial T2 (disc herniation)",
    citation=XU_2024,
    anatomy="lumbar spine, axial at the L2/L3, L3/L4 and L4/L5 discs",
    protocol=SPLIT.description,
    series=(SeriesSpec("axial", ("T2w",), 2, "one axial T2-weighted FSE slice per disc level"),),
    targets=(
        SegmentationTarget(
            labels={"background": 0, **{n: i + 1 for i, n in enumerate(STRUCTURES)}}
        ),
        FAT,
    ),
    case_columns=("level",),
    split=SPLIT,
    metrics=METRICS,
    primary_metric="dice",
    strata=(G20,),
    published=_published(),
    phantom="mskbench.tasks.lumbar.phantom:generate",
    profiles=_profiles(),
    nsd_tolerance_mm=2.0,
    task_metrics=TASK_METRICS,
    evaluator="mskbench.tasks.lumbar.evaluator:evaluate_case",
    tables="mskbench.tasks.lumbar.tables:tables",
)
