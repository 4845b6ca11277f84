"""The lumbar phantom against seed 002: rCSA by level (Table 4), FI by muscle (Table 5), what
the §5.1 thresholding algorithm makes of it, and how fast a paper-profile slice renders.

    python benchmarks/lumbar_phantom.py [--profile quick] [--seed 0] [--repeats 10]

Slices are rendered in memory (nothing is written). Speed is timed on one core.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

from mskbench.baselines.lumbar import threshold_fat
from mskbench.tasks import get_task
from mskbench.tasks.lumbar.phantom import LABEL_OF, plan_cohort, render_scan
from mskbench.tasks.lumbar.spec import LEVELS, MUSCLE_LABELS, MUSCLES
from mskbench.tasks.lumbar.spine import FI_TABLE5, RCSA_TABLE4


def measure(profile: str, seed: int) -> pd.DataFrame:
    params = dict(get_task("lumbar_paraspinal").profile(profile).phantom)
    shape, pixel_mm = tuple(params["shape"]), params["pixel_mm"]
    muscles = [LABEL_OF[m] for m in MUSCLE_LABELS]
    rows = []
    for scan in plan_cohort(params["n_subjects"], params["n_external"], seed):
        case = render_scan(scan, shape, pixel_mm)
        label, fat = case.label, case.masks["fat"] > 0
        thresholded, _, _ = threshold_fat(case.image[0].astype(float), label, muscles)
        disc = np.count_nonzero(label == LABEL_OF["IVD"])
        for name in MUSCLE_LABELS:
            inside = label == LABEL_OF[name]
            fi = fat[inside].mean()
            rows.append(
                {
                    "site": scan.subject.site, "level": LEVELS[scan.level], "muscle": name[:2],
                    "rcsa": inside.sum() / disc, "fi": fi, "fi_threshold": thresholded[inside].mean(),
                    "ape": 100 * abs(thresholded[inside].mean() - fi) / fi,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def speed(repeats: int) -> list[float]:
    params = dict(get_task("lumbar_paraspinal").profile("paper").phantom)
    scans = plan_cohort(4, 0, seed=0)
    render_scan(scans[0], tuple(params["shape"]), params["pixel_mm"])  # warm-up
    times = []
    for scan in (scans * repeats)[1 : repeats + 1]:
        start = time.perf_counter()
        render_scan(scan, tuple(params["shape"]), params["pixel_mm"])
        times.append(time.perf_counter() - start)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    table = measure(args.profile, args.seed)
    internal = table[table["site"] == "A"]
    print(f"rCSA by level, site A ({len(internal) // 10} slices): phantom mean ± SD | seed Table 4")
    for muscle in MUSCLES:
        cells = []
        for i, level in enumerate(LEVELS):
            v = internal[(internal["muscle"] == muscle) & (internal["level"] == level)]["rcsa"]
            cells.append(
                f"{level} {v.mean():.2f} ± {v.std():.2f} | {RCSA_TABLE4[muscle][i][0]:.2f}"
            )
        print(f"  {muscle}: " + "; ".join(cells))
    print("FI by muscle: phantom | seed Table 5 standard; thresholding FI and MAPE (%) | seed")
    seed_threshold = {"PM": (0.27, 49.97), "QL": (0.24, 57.26), "IL": (0.35, 47.55),
                      "LO": (0.37, 62.42), "MF": (0.43, 50.79)}  # fmt: skip
    for site in ("A", "B"):
        part = table[table["site"] == site]
        for muscle in MUSCLES:
            m = part[part["muscle"] == muscle]
            print(
                f"  site {site} {muscle}: FI {m.fi.mean():.3f} ± {m.fi.std():.3f} | "
                f"{FI_TABLE5[site][muscle][0]:.2f}; thresholding {m.fi_threshold.mean():.3f} "
                f"MAPE {m.ape.mean():.1f}"
                + (
                    f" | {seed_threshold[muscle][0]:.2f}, {seed_threshold[muscle][1]:.1f}"
                    if site == "A"
                    else ""
                )
            )
    times = speed(args.repeats)
    print(
        f"paper-profile slice (512 × 512, 2× super-sampled) render: median {times[len(times) // 2]:.2f} s "
        f"(min {times[0]:.2f}, max {times[-1]:.2f}), n={len(times)}, one core"
    )


if __name__ == "__main__":
    main()
