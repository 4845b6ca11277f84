"""Is a phantom hard in the way real data is hard? Prints, for a prepared dataset:

NMD tasks (``nmd_thigh``, ``nmd_leg``):

1. per-muscle FF / MTR / T2 distributions against seed 003's Fig. 2
   (FF 8.76 ± 7.68 %, [1.87, 64.34]; MTR 48.01 ± 6.21; T2 55.47 ± 15.86 ms);
2. the boundary contrast of muscles across their edge with fat, G20− vs G20+;
3. a three-class Otsu threshold: Dice against all muscles together, and per muscle
   (best-overlapping connected component) — a threshold must not solve the task.

``shoulder_supraspinatus``:

1. the grade counts per site against the seed's 403/114/51/24/14;
2. per grade: the supraspinatus's fat fraction (mean of the FF map inside the reference
   mask, %), its area (mm²), women and age;
3. how well single numbers from the image rank the grades (Spearman ρ with the grade;
   AUROC of 0-1 vs 3-4 and of 0-1 vs 2): the reference FF (the truth of which the rater's
   grade is a noisy reading) against what a threshold gets from the 8-bit image inside the
   reference mask — the share above its Otsu cut, the share above a fixed cut at half the
   window, the mean intensity.

    python benchmarks/phantom_realism.py --task nmd_thigh --profile quick
    python benchmarks/phantom_realism.py --task shoulder_supraspinatus
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy import stats
from skimage.filters import threshold_otsu
from sklearn.metrics import roc_auc_score

from mskbench.tasks import get_task
from mskbench.tasks.contract import Dataset
from mskbench.tasks.inspect import (
    boundary_contrast,
    distribution,
    structure_map_means,
    threshold_baseline,
)
from mskbench.tasks.phantoms import prepare_phantom
from mskbench.tasks.shoulder.spec import SEED_GRADE_COUNTS

SEED_FIG2 = {
    "ff": (8.76, 7.68, 1.87, 64.34),
    "mtr": (48.01, 6.21, 9.69, 55.78),
    "t2": (55.47, 15.86, 34.72, 151.72),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="nmd_thigh")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    task = get_task(args.task)
    root, _ = prepare_phantom(task, args.profile, args.seed)
    dataset = Dataset(root, task)
    if task.name == "shoulder_supraspinatus":
        shoulder(dataset, f"{task.name} {args.profile} seed {args.seed}")
    else:
        nmd(dataset, f"{task.name} {args.profile} seed {args.seed}")


def shoulder_rows(dataset: Dataset) -> pd.DataFrame:
    """Per case: grade, site, sex, age, and inside the reference supraspinatus mask the FF
    map mean (%), the area (mm²), and from the 8-bit image the share of pixels above the
    Otsu cut, the share above 128 and the mean intensity."""
    rows = []
    for case_id in dataset.case_ids:
        case = dataset.load(case_id)
        inside = case.label > 0
        pixels = case.image[0][inside]
        info = dataset.cases.loc[case_id]
        rows.append(
            {
                "case_id": case_id,
                "site": info["site"],
                "grade": int(info["goutallier"]),
                "sex": info["sex"],
                "age": int(info["age"]),
                "ff": float(case.maps["ff"][inside].mean()),
                "area": float(inside.sum() * np.prod(case.spacing)),
                "otsu": float((pixels > threshold_otsu(pixels)).mean()),
                "fixed": float((pixels >= 128).mean()),
                "intensity": float(pixels.mean()),
            }
        )
    return pd.DataFrame(rows)


def shoulder(dataset: Dataset, title: str) -> None:
    """Grade counts, FF and area per grade, and the threshold check (module docstring)."""
    table = shoulder_rows(dataset)
    print(f"{title}: {len(table)} images ({dataset.root})")
    print(f"grades 0-4 (seed 000: {list(SEED_GRADE_COUNTS)})")
    for site, rows in table.groupby("site"):
        counts = rows.grade.value_counts().reindex(range(5), fill_value=0).tolist()
        print(f"  site {site}: {counts}")
    for site, rows in table.groupby("site"):
        per_grade = rows.groupby("grade").agg(
            n=("ff", "size"),
            ff_mean=("ff", "mean"),
            ff_sd=("ff", "std"),
            area_mm2=("area", "mean"),
            area_sd=("area", "std"),
            women=("sex", lambda s: (s == "F").mean()),
            age=("age", "mean"),
        )
        print(f"site {site}, per grade (FF % and area mm² of the reference SSP):")
        print(per_grade.round(2).to_string())
    internal = table[table.site == "A"]
    print(
        f"site A: {(internal.sex == 'M').sum()} men of {len(internal)}, "
        f"age {internal.age.mean():.1f} ± {internal.age.std():.1f} (seed: 333 of 606, 55.1 ± 13.2)"
    )
    print("single numbers inside the reference mask (site A): Spearman ρ with the grade, AUROC")
    binary = internal[internal.grade != 2]
    hard = internal[internal.grade <= 2]
    for column, what in (
        ("ff", "reference FF (FF map mean)"),
        ("otsu", "Otsu fat share"),
        ("fixed", "share >= 128 of 255"),
        ("intensity", "mean intensity"),
        ("area", "area (atrophy; AUROC of -area)"),
    ):
        sign = -1.0 if column == "area" else 1.0
        rho = stats.spearmanr(internal[column], internal.grade).statistic
        risky = roc_auc_score(binary.grade >= 3, sign * binary[column])
        grade_2 = roc_auc_score(hard.grade == 2, sign * hard[column])
        print(f"  {what:34s} rho {rho:+.3f}  0-1 vs 3-4 {risky:.3f}  0-1 vs 2 {grade_2:.3f}")


def nmd(dataset: Dataset, title: str) -> None:
    """FF/MTR/T2 distributions, boundary contrast and Otsu Dice (module docstring)."""
    task = dataset.task
    means = structure_map_means(dataset)
    print(f"{title}: {len(dataset.case_ids)} volumes, {len(means)} muscles ({dataset.root})")
    print("map    ours: mean ± SD [min, max]           seed 003 Fig. 2")
    for name in task.map_names:
        d = distribution(means[name], 20.0 if name == "ff" else None)
        m, s, lo, hi = SEED_FIG2[name]
        extra = f"; {d['share_at_or_above_%']:.1f} % ≥ 20 %" if name == "ff" else ""
        print(
            f"{name:5s} {d['mean']:6.2f} ± {d['sd']:5.2f} [{d['min']:6.2f}, {d['max']:6.2f}]{extra}   "
            f"{m:.2f} ± {s:.2f} [{lo}, {hi}]"
        )
    groups = dataset.cases.set_index("case_id")["group"]
    by_group = (
        means.assign(group=means.case_id.map(groups))
        .groupby("group")
        .ff.agg(["mean", "max", "count"])
    )
    print("FF by disease group (%):\n" + by_group.round(2).to_string())

    values = list(range(1, len(task.structure_names) + 1))
    rows = []
    for case_id in dataset.case_ids:
        case = dataset.load(case_id)
        contrast = boundary_contrast(case, values)
        otsu = threshold_baseline(case, values)
        for value in values:
            rows.append(
                {
                    "case_id": case_id,
                    "structure": task.structure_names[value - 1],
                    "contrast": contrast.get(value, np.nan),
                    "otsu_dice": otsu["dice_per_structure"][value],
                    "otsu_union": otsu["dice_union"],
                }
            )
    table = pd.DataFrame(rows).merge(means[["case_id", "structure", "ff"]])
    table["stratum"] = np.where(table.ff >= 20.0, "G20+", "G20-")
    summary = table.groupby("stratum").agg(
        muscles=("ff", "size"),
        ff=("ff", "mean"),
        boundary_contrast=("contrast", "mean"),
        otsu_dice_per_muscle=("otsu_dice", "mean"),
    )
    print(
        "boundary contrast (Michelson, muscle edge vs neighbouring fat) and Otsu per-muscle Dice:"
    )
    print(summary.round(3).to_string())
    ratio = summary.boundary_contrast["G20+"] / summary.boundary_contrast["G20-"]
    print(f"contrast G20+/G20- = {ratio:.2f}")
    print(
        f"Otsu muscle mask vs all muscles: Dice {table.drop_duplicates('case_id').otsu_union.mean():.3f}; "
        f"per muscle (best component): Dice {table.otsu_dice.mean():.3f}"
    )


if __name__ == "__main__":
    main()
