"""`sij_fat_metaplasia` and `sij_axspa`: fat metaplasia (FM) on sacroiliac-joint MRI and
axial spondyloarthritis from it.

Seed 004 — Li X, Lin Y, Xie Z, et al., Insights Imaging 2024;15:93 ("Automatic segmentation
of fat metaplasia on sacroiliac joint MRI using deep learning"). 706 patients with FM
(every patient has FM: patients without it were excluded; age ≤ 45 years), oblique-axial
T1-weighted SIJ MRI: centre 1, 648 patients (462 axSpA, 186 non-axSpA); centre 2, 58 (37
axSpA, 21 non-axSpA). FM was delineated slice by slice (ITK-SNAP), refined over five
rounds of model-assisted correction.

* Segmentation: 103 centre-1 patients, 4-fold cross-validation; 20 centre-2 patients as
  the external test set. DSC (mean ± SD, %), precision and recall (%, 95 % CI); paired
  t-tests of each model against the 2.5D-AttentionUNet (Table 2). Six networks: the seed's
  2.5D-AttentionUNet, 2D U-Net, 3D U-Net, ResUNet, UNETR, Attention U-Net.
* Classification: centre 1 split into training / validation / internal test (455 / 64 /
  129), all 58 centre-2 patients external. AUC, accuracy, sensitivity, specificity, PPV,
  NPV, Cohen's κ with 95 % CIs ("bootstrap" in the Methods; Table 4's intervals are
  symmetric, i.e. normal-approximation intervals — `tasks.sij.tables` prints both).
* Readers (Tables 3 and 5): a resident and an expert, without and with the model, on the
  external set — kept as *published, other data*; no reader runs here.

One phantom (`tasks.sij.phantom`) serves both tasks; each task caches its own folder
(different cohort sizes and splits), and with the same seed the FM task's patients are the
first patients of the axSpA task's cohort. The axSpA task carries the FM masks as its label
map, so a two-stage model (segment FM, classify from it, as the seed did) can train on them.
Fractions throughout (the seed's percentages ÷ 100).
"""

from __future__ import annotations

from mskbench.tasks.spec import Citation, ProfileSpec, PublishedValue, SplitProtocol, TaskSpec
from mskbench.tasks.targets import SegmentationTarget, SeriesSpec, binary_target

LI_2024 = Citation(
    authors="Li X, Lin Y, Xie Z, Lu Z, Song L, Ye Q, Wang M, Fang X, He Y, Chen H, Zhao Y",
    title="Automatic segmentation of fat metaplasia on sacroiliac joint MRI using deep learning",
    journal="Insights Imaging 15:93",
    year=2024,
    doi="10.1186/s13244-024-01659-y",
    seed_file="004_4dbb832a506526fb.txt",
)

#: Seed cohorts: centre 1 and centre 2 patients (axSpA, all).
CENTRE_1 = (462, 648)
CENTRE_2 = (37, 58)
#: Segmentation cohort: 103 centre-1 (4-fold CV) + 20 centre-2 (external).
SEG_COHORT = (103, 20)
#: Classification split of centre 1: training, validation, internal test.
CLS_SPLIT = (455, 64, 129)

SERIES = (SeriesSpec("axial", ("T1w",), 3, "oblique-axial T1-weighted volume of both SIJs"),)
FM_LABELS = SegmentationTarget(labels={"background": 0, "FM": 1})
AXSPA = binary_target(
    "axspa", description="axSpA (1) vs non-axSpA (0), rheumatologists' diagnosis", ci="bootstrap"
)
SEG_METRICS = ("dice", "precision", "recall", "hd95")
CLS_METRICS = ("auroc", "accuracy", "sensitivity", "specificity", "ppv", "npv", "kappa")

# -- published numbers (fractions) ----------------------------------------------------------
SEED_SEG_MODEL = "sij_attention25d"
#: the seed's classifier on the 2.5D model's FM (`baselines/sij_two_stage.py`)
SEED_CLS_MODEL = "sij_two_stage"
#: Table 2: model → split → (DSC, SD, precision, its CI, recall, its CI), in %.
_TABLE2 = {
    "sij_attention25d": {
        "test": (81.86, 1.55, 80.49, (80.16, 80.82), 85.5, (85.34, 85.66)),
        "external": (85.44, 6.09, 85.83, (82.62, 89.04), 86.43, (81.10, 91.76)),
    },
    "unet2d": {
        "test": (76.97, 2.11, 78.5, (78.25, 78.75), 78.24, (77.84, 78.64)),
        "external": (66.53, 19.37, 69.14, (62.20, 74.04), 68.09, (59.71, 76.50)),
    },
    "unet3d": {
        "test": (80.05, 1.57, 80.18, (79.71, 81.55), 82.4, (82.00, 82.80)),
        "external": (67.40, 20.84, 85.12, (80.31, 89.37), 62.87, (52.46, 71.26)),
    },
    "resunet": {
        "test": (76.42, 1.92, 76.49, (76.15, 76.83), 79.56, (79.31, 79.81)),
        "external": (66.41, 17.60, 75.74, (69.66, 79.58), 65.66, (57.32, 72.96)),
    },
    "unetr": {
        "test": (73.94, 2.68, 79.64, (79.12, 80.16), 72.93, (72.51, 73.35)),
        "external": (57.81, 21.58, 68.83, (61.45, 77.27), 55.26, (46.22, 67.42)),
    },
    "attention_unet": {
        "test": (79.73, 1.65, 79.95, (79.59, 80.31), 82.47, (82.12, 82.82)),
        "external": (65.54, 24.25, 72.29, (63.05, 76.22), 67.95, (56.84, 76.66)),
    },
}
#: Table 2's significance marks of the paired t-test against the 2.5D model.
_TABLE2_MARK = {
    ("unet2d", "test"): "**", ("unet2d", "external"): "**", ("unet3d", "external"): "**",
    ("resunet", "test"): "**", ("resunet", "external"): "**", ("unetr", "test"): "**",
    ("unetr", "external"): "**", ("attention_unet", "test"): "*",
    ("attention_unet", "external"): "*",
}  # fmt: skip
#: Table 3 (external set): reader → (DSC, SD, precision, CI, recall, CI, p), in %.
_TABLE3 = {
    "resident": (75.70, 10.87, 66.18, (59.69, 72.68), 91.13, (87.71, 94.55), 0.001),
    "expert": (85.03, 9.72, 80.32, (74.71, 85.92), 91.11, (86.84, 95.38), 0.874),
    "resident_assisted": (82.87, 6.88, 76.18, (72.01, 80.35), 92.05, (88.14, 95.95), None),
    "expert_assisted": (85.74, 8.08, 81.59, (76.84, 86.33), 91.39, (87.45, 95.33), 0.496),
}
#: Table 4: split → metric → (value, CI low, CI high); rates in %, AUC and κ as fractions.
_TABLE4 = {
    "test": {
        "auroc": (0.876, 0.811, 0.942), "accuracy": (81.25, 73.44, 89.06),
        "sensitivity": (88.52, 82.15, 94.89), "specificity": (68.57, 59.28, 77.86),
        "ppv": (83.08, 75.58, 90.58), "npv": (77.42, 69.06, 85.78),
        "kappa": (0.504, 0.335, 0.673),
    },
    "external": {
        "auroc": (0.799, 0.696, 0.902), "accuracy": (77.59, 66.85, 88.32),
        "sensitivity": (91.89, 84.87, 98.92), "specificity": (52.38, 39.53, 65.23),
        "ppv": (77.27, 66.49, 88.06), "npv": (78.57, 68.01, 89.13),
        "kappa": (0.477, 0.242, 0.712),
    },
}  # fmt: skip
#: Table 5 (external set): reader → metric → (value, CI low, CI high), as Table 4.
_TABLE5 = {
    "resident": {
        "accuracy": (70.69, 58.18, 81.82), "sensitivity": (78.38, 63.89, 91.18),
        "specificity": (57.14, 33.33, 78.58), "ppv": (76.32, 62.16, 89.29),
        "npv": (60.00, 35.71, 82.35), "kappa": (0.359, 0.082, 0.599),
    },
    "expert": {
        "accuracy": (79.31, 69.09, 89.14), "sensitivity": (89.19, 76.92, 97.30),
        "specificity": (61.90, 40.72, 83.33), "ppv": (80.49, 68.42, 92.50),
        "npv": (76.47, 52.94, 94.44), "kappa": (0.533, 0.299, 0.766),
    },
    "resident_assisted": {
        "accuracy": (77.51, 67.27, 87.32), "sensitivity": (89.22, 78.79, 97.44),
        "specificity": (57.20, 34.99, 78.57), "ppv": (78.27, 65.00, 90.24),
        "npv": (75.34, 52.93, 95.00), "kappa": (0.484, 0.238, 0.725),
    },
    "expert_assisted": {
        "accuracy": (82.55, 70.91, 90.91), "sensitivity": (94.85, 85.71, 100.00),
        "specificity": (61.51, 40.00, 82.36), "ppv": (80.87, 68.18, 92.50),
        "npv": (87.41, 66.67, 100.00), "kappa": (0.596, 0.369, 0.802),
    },
}  # fmt: skip
_SPLIT_NAME = {"test": "internal", "external": "external test set"}


def _fraction(metric: str, value: float) -> float:
    return value if metric in ("auroc", "kappa") else value / 100.0


def _seg_published() -> tuple[PublishedValue, ...]:
    """Tables 2 and 3 (the internal rows of Table 2 are over the 4-fold CV)."""
    rows = []
    for model, by_split in _TABLE2.items():
        for split, (dsc, sd, prec, prec_ci, rec, rec_ci) in by_split.items():
            mark = _TABLE2_MARK.get((model, split), "")
            source = f"Table 2, {_SPLIT_NAME[split]}" + (
                f" (paired t vs 2.5D: {'p < 0.001' if mark == '**' else 'p < 0.05'})"
                if mark
                else ""
            )
            n = SEG_COHORT[0] if split == "test" else SEG_COHORT[1]
            rows += [
                PublishedValue(source, model, "dice", dsc / 100, sd=sd / 100, group=split, n=n),
                PublishedValue(source, model, "precision", prec / 100, group=split, n=n,
                               ci_low=prec_ci[0] / 100, ci_high=prec_ci[1] / 100),
                PublishedValue(source, model, "recall", rec / 100, group=split, n=n,
                               ci_low=rec_ci[0] / 100, ci_high=rec_ci[1] / 100),
            ]  # fmt: skip
    for reader, (dsc, sd, prec, prec_ci, rec, rec_ci, p) in _TABLE3.items():
        source = "Table 3, external test set (reader)"
        n = SEG_COHORT[1]
        rows += [
            PublishedValue(source, reader, "dice", dsc / 100, sd=sd / 100, group="external",
                           n=n, p_value=p),
            PublishedValue(source, reader, "precision", prec / 100, group="external", n=n,
                           ci_low=prec_ci[0] / 100, ci_high=prec_ci[1] / 100),
            PublishedValue(source, reader, "recall", rec / 100, group="external", n=n,
                           ci_low=rec_ci[0] / 100, ci_high=rec_ci[1] / 100),
        ]  # fmt: skip
    return tuple(rows)


def _cls_published() -> tuple[PublishedValue, ...]:
    """Tables 4 (classifier, internal and external) and 5 (readers, external)."""
    rows = []
    for split, values in _TABLE4.items():
        n = CLS_SPLIT[2] if split == "test" else CENTRE_2[1]
        for metric, (v, lo, hi) in values.items():
            rows.append(
                PublishedValue(f"Table 4, {_SPLIT_NAME[split]}", SEED_CLS_MODEL, metric,
                               _fraction(metric, v), group=split, target="axspa", n=n,
                               ci_low=_fraction(metric, lo), ci_high=_fraction(metric, hi))
            )  # fmt: skip
    for reader, values in _TABLE5.items():
        for metric, (v, lo, hi) in values.items():
            rows.append(
                PublishedValue("Table 5, external test set (reader)", reader, metric,
                               _fraction(metric, v), group="external", target="axspa",
                               n=CENTRE_2[1], ci_low=_fraction(metric, lo),
                               ci_high=_fraction(metric, hi))
            )  # fmt: skip
    return tuple(rows)


# -- profiles ---------------------------------------------------------------------------------
def _phantom(n_subjects: int, n_external: int, size: int, pixel_mm: float) -> dict:
    return {"n_subjects": n_subjects, "n_external": n_external, "shape": (size, size),
            "pixel_mm": pixel_mm}  # fmt: skip


SEG_SPLIT = SplitProtocol(
    kind="kfold",
    n_folds=4,
    group_by="subject_id",
    val_fraction=0.1,
    external_site="B",
    description=(
        "4-fold cross-validation over the centre-1 segmentation cohort (one volume per "
        "patient, folds by patient, not stratified: the seed drew the 103 patients at "
        "random); 10 % of each fold's training patients validate for early stopping (the "
        "seed does not say); all site-B (centre-2) patients are the external test set."
    ),
)
CLS_SPLIT_PROTOCOL = SplitProtocol(
    kind="holdout",
    test_fraction=CLS_SPLIT[2] / CENTRE_1[1],
    stratify_by="axspa",
    group_by="subject_id",
    val_fraction=CLS_SPLIT[1] / (CLS_SPLIT[0] + CLS_SPLIT[1]),
    external_site="B",
    description=(
        "Centre 1 split into training / validation / internal test in the seed's "
        "proportions (455 / 64 / 129 of 648), the test set stratified by axSpA; all "
        "site-B (centre-2) patients are the external test set."
    ),
)

SIJ_FAT_METAPLASIA = TaskSpec(
    name="sij_fat_metaplasia",
    version=1,
    title="Fat metaplasia of the sacroiliac joints on oblique-axial T1w MRI (3D)",
    citation=LI_2024,
    anatomy="pelvis, both sacroiliac joints, oblique axial",
    protocol=SEG_SPLIT.description,
    series=SERIES,
    targets=(FM_LABELS,),
    split=SEG_SPLIT,
    metrics=SEG_METRICS,
    primary_metric="dice",
    case_columns=("age", "sex", "axspa"),
    published=_seg_published(),
    phantom="mskbench.tasks.sij.phantom:generate",
    profiles={
        "smoke": ProfileSpec(
            "smoke",
            "CI: 8 + 3 external patients, 64 × 64 × 16–20 (2.5 mm), fold 0, 2 epochs",
            phantom=_phantom(8, 3, 64, 2.5),
            folds=(0,),
            max_epochs=2,
            patience=2,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 64 + 16 external patients, 128 × 128 × 16–20 (1.5 mm), "
            "4 folds, ≤ 20 epochs",
            phantom=_phantom(64, 16, 128, 1.5),
            folds=None,
            max_epochs=20,
            patience=10,
        ),
        "paper": ProfileSpec(
            "paper",
            "seed protocol: 103 + 20 external patients, 320 × 320 × 16–20 "
            "(0.9 mm), 4 folds, 400 epochs (the seed trained 400 epochs, no early stopping)",
            phantom=_phantom(*SEG_COHORT, 320, 0.9),
            folds=None,
            max_epochs=400,
            patience=400,
        ),
    },
    nsd_tolerance_mm=2.0,
    tables="mskbench.tasks.sij.tables:fm_tables",
)

SIJ_AXSPA = TaskSpec(
    name="sij_axspa",
    version=1,
    title="axSpA vs non-axSpA from oblique-axial T1w SIJ MRI (FM masks as training labels)",
    citation=LI_2024,
    anatomy="pelvis, both sacroiliac joints, oblique axial",
    protocol=CLS_SPLIT_PROTOCOL.description,
    series=SERIES,
    targets=(FM_LABELS, AXSPA),
    split=CLS_SPLIT_PROTOCOL,
    metrics=(*CLS_METRICS, *SEG_METRICS),
    primary_metric="auroc",
    case_columns=("age", "sex"),
    published=_cls_published(),
    phantom="mskbench.tasks.sij.phantom:generate",
    profiles={
        "smoke": ProfileSpec(
            "smoke",
            "CI: 20 + 6 external patients, 64 × 64 × 16–20 (2.5 mm), 2 epochs",
            phantom=_phantom(20, 6, 64, 2.5),
            max_epochs=2,
            patience=2,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 100 + 20 external patients, 128 × 128 × 16–20 (1.5 mm), ≤ 20 epochs",
            phantom=_phantom(100, 20, 128, 1.5),
            max_epochs=20,
            patience=10,
        ),
        "paper": ProfileSpec(
            "paper",
            "seed protocol: 648 + 58 external patients (455 / 64 / 129 + 58), "
            "320 × 320 × 16–20 (0.9 mm), 300 epochs (the seed's classifier)",
            phantom=_phantom(CENTRE_1[1], CENTRE_2[1], 320, 0.9),
            max_epochs=300,
            patience=300,
        ),
    },
    tables="mskbench.tasks.sij.tables:axspa_tables",
)
