"""`nmd_thigh` and `nmd_leg`: lower-limb muscle segmentation in neuromuscular disease.

Seed 003 — Hostin et al., J Magn Reson Imaging 2023;58:1826–1835. Axial T1-weighted FSE
volumes (1.5 T, 320 × 320, 0.68 mm in-plane, 20 slices of 10 mm) of 67 patients (FAP,
CMT1A, CIDP) and 14 controls; 10 thigh muscles / 6 leg compartments; 10-fold
cross-validation, 10 % of training data for validation, Dice loss, Adam, early stopping
with patience 10, no augmentation. Scores: DSC, outlier rate (Tukey, below Q1 − 1.5 IQR),
absence rate, and the biomarker errors ΔFF (%), ΔMTR, ΔT2 (ms), ΔV (cm³) of the map means
inside predicted vs manual masks; Bland–Altman; G20− vs G20+ (muscle FF < 20 % / ≥ 20 %)
with Shapiro–Wilk then Wilcoxon or t-test.
"""

from __future__ import annotations

from mskbench.tasks.spec import (
    Citation,
    MapSpec,
    OutlierFence,
    ProfileSpec,
    PublishedValue,
    SplitProtocol,
    Stratum,
    TaskSpec,
)
from mskbench.tasks.targets import SegmentationTarget, SeriesSpec

HOSTIN_2023 = Citation(
    authors=(
        "Hostin MA, Ogier AC, Michel CP, Le Fur Y, Guye M, Attarian S, Fortanier E, "
        "Bellemare ME, Bendahan D"
    ),
    title=(
        "The Impact of Fatty Infiltration on MRI Segmentation of Lower Limb Muscles in "
        "Neuromuscular Diseases: A Comparative Study of Deep Learning Approaches"
    ),
    journal="J Magn Reson Imaging 58:1826-1835",
    year=2023,
    doi="10.1002/jmri.28708",
    seed_file="003_328441f02ae94dfd.txt",
)

THIGH_MUSCLES = ("Ad", "BF", "Gr", "RF", "Sa", "SM", "ST", "VI", "VL", "VM")
LEG_MUSCLES = ("AC", "DPC", "GL", "GM", "LC", "So")

NMD_MAPS = (
    MapSpec("ff", "%", "fat fraction from 3-point Dixon, 0-100 %"),
    MapSpec("mtr", "p.u.", "magnetisation transfer ratio, percent units"),
    MapSpec("t2", "ms", "apparent (mono-exponential) T2 from multi-spin-echo"),
)

G20 = Stratum(
    name="G20", attribute="ff_ref", threshold=20.0, unit="%", below="G20-", at_or_above="G20+"
)

NMD_SPLIT = SplitProtocol(
    kind="kfold",
    n_folds=10,
    group_by="subject_id",
    val_fraction=0.1,
    external_site="B",
    description=(
        "10-fold cross-validation grouped by subject (repeat scans of a subject stay in one "
        "fold); 10 % of the training subjects validate for early stopping. Site-B scans are "
        "an external test set outside the folds (an mskbench addition: the seed is single-site)."
    ),
)

NMD_METRICS = (
    "dice",
    "ff_delta",
    "mtr_delta",
    "t2_delta",
    "volume_delta_cm3",
    "absence_rate",
    "outlier_rate",
    "hd95",
    "assd",
    "nsd",
)

_T1 = "Table 1"
_T2 = "Table 2 (HRNet, thigh and leg pooled)"
_TABLE1_COLUMNS = ("dice", "ff_delta", "mtr_delta", "t2_delta", "volume_delta_cm3")

# Seed Table 1: mean ± SD per network; AR and OR in %.
_TABLE1 = {
    "thigh": {
        "hrnet": (
            (0.93, 0.04),
            (-0.37, 0.91),
            (0.25, 0.76),
            (-0.62, 1.84),
            (-0.25, 3.18),
            0.00,
            5.77,
        ),
        "transunet": (
            (0.92, 0.04),
            (-0.34, 0.94),
            (0.21, 0.78),
            (-0.60, 1.99),
            (-0.17, 3.56),
            2.28,
            6.68,
        ),
        "unet2d": (
            (0.93, 0.04),
            (-0.32, 0.82),
            (0.20, 0.75),
            (-0.55, 1.77),
            (-0.11, 3.11),
            1.70,
            4.53,
        ),
        "unet3d": (
            (0.92, 0.05),
            (-0.34, 1.20),
            (0.17, 0.86),
            (-0.55, 2.12),
            (-0.11, 3.47),
            4.04,
            4.76,
        ),
    },
    "leg": {
        "hrnet": (
            (0.89, 0.11),
            (-0.23, 0.93),
            (0.09, 0.77),
            (-0.42, 2.12),
            (-0.63, 4.40),
            0.00,
            7.52,
        ),
        "transunet": (
            (0.88, 0.08),
            (-0.16, 1.13),
            (0.07, 0.94),
            (-0.33, 2.73),
            (0.44, 3.44),
            0.00,
            6.64,
        ),
        "unet2d": (
            (0.89, 0.12),
            (-0.17, 0.88),
            (0.07, 0.68),
            (-0.41, 2.16),
            (-0.51, 3.45),
            3.89,
            7.48,
        ),
        "unet3d": (
            (0.88, 0.08),
            (-0.10, 1.12),
            (0.07, 0.99),
            (-0.04, 2.27),
            (0.50, 3.45),
            1.39,
            6.39,
        ),
    },
}

# Seed Table 2: HRNet, G20− vs G20+, mean ± SD and the p-value of the group test.
_TABLE2 = {
    "dice": ((0.92, 0.04), (0.87, 0.09), 4.48e-15),
    "ff_delta": ((-0.27, 0.77), (-1.09, 2.11), 2.43e-04),
    "mtr_delta": ((0.17, 0.73), (0.56, 1.25), 1.00e-03),
    "t2_delta": ((-0.48, 1.82), (-1.69, 3.20), 4.98e-04),
    "volume_delta_cm3": ((-0.19, 2.91), (-1.90, 4.63), 3.89e-04),
}


def _published(section: str) -> tuple[PublishedValue, ...]:
    rows: list[PublishedValue] = []
    for model, values in _TABLE1[section].items():
        for metric, (mean, sd) in zip(_TABLE1_COLUMNS, values[:5], strict=True):
            rows.append(PublishedValue(_T1, model, metric, mean, sd, group=section))
        rows.append(PublishedValue(_T1, model, "absence_rate", values[5], group=section))
        rows.append(PublishedValue(_T1, model, "outlier_rate", values[6], group=section))
    for metric, (below, above, p) in _TABLE2.items():
        rows.append(
            PublishedValue(_T2, "hrnet", metric, below[0], below[1], group="G20-", p_value=p)
        )
        rows.append(
            PublishedValue(_T2, "hrnet", metric, above[0], above[1], group="G20+", p_value=p)
        )
    return tuple(rows)


def _profiles(n_scans_paper: int) -> dict[str, ProfileSpec]:
    return {
        "smoke": ProfileSpec(
            "smoke",
            "CI: 12 small volumes (64 × 64 × 6, 3.4 mm), fold 0 only, 2 epochs",
            phantom={
                "n_subjects": 10,
                "n_scans": 12,
                "n_external": 2,
                "shape": (64, 64),
                "pixel_mm": 3.4,
                "n_slices": 6,
                "slice_mm": 33.3,
            },
            folds=(0,),
            max_epochs=2,
            patience=2,
        ),
        "quick": ProfileSpec(
            "quick",
            "2-core CPU: 40 volumes (128 × 128 × 10, 1.7 mm), folds 0-2, ≤ 30 epochs",
            phantom={
                "n_subjects": 32,
                "n_scans": 40,
                "n_external": 6,
                "shape": (128, 128),
                "pixel_mm": 1.7,
                "n_slices": 10,
                "slice_mm": 20.0,
            },
            folds=(0, 1, 2),
            max_epochs=30,
            patience=10,
        ),
        "paper": ProfileSpec(
            "paper",
            f"seed protocol: {n_scans_paper} volumes of 81 subjects (320 × 320 × 20, 0.68 mm), "
            "10 folds, early stopping (patience 10)",
            phantom={
                "n_subjects": 81,
                "n_scans": n_scans_paper,
                "n_external": 20,
                "shape": (320, 320),
                "pixel_mm": 0.68,
                "n_slices": 20,
                "slice_mm": 10.0,
            },
            folds=None,
            max_epochs=200,
            patience=10,
        ),
    }


def _nmd_task(name: str, section: str, muscles: tuple[str, ...], n_scans_paper: int) -> TaskSpec:
    return TaskSpec(
        name=name,
        version=1,
        title=f"{section.capitalize()} muscle segmentation in neuromuscular disease (T1w FSE)",
        citation=HOSTIN_2023,
        anatomy=f"{section}, axial",
        protocol=NMD_SPLIT.description,
        series=(SeriesSpec("axial", ("T1w",), 3, "axial T1-weighted FSE, 10 mm slices"),),
        targets=(
            SegmentationTarget(
                labels={"background": 0, **{m: i + 1 for i, m in enumerate(muscles)}}
            ),
        ),
        maps=NMD_MAPS,
        case_columns=("group", "side"),
        split=NMD_SPLIT,
        metrics=NMD_METRICS,
        primary_metric="dice",
        strata=(G20,),
        published=_published(section),
        phantom=f"mskbench.tasks.nmd.phantom:generate_{section}",
        profiles=_profiles(n_scans_paper),
        nsd_tolerance_mm=2.0,
        # seed 003's OR: each network's DSC values below its own Q1 − 1.5 IQR
        outlier_fence=OutlierFence("per_model"),
    )


NMD_THIGH = _nmd_task("nmd_thigh", "thigh", THIGH_MUSCLES, n_scans_paper=112)
NMD_LEG = _nmd_task("nmd_leg", "leg", LEG_MUSCLES, n_scans_paper=106)
