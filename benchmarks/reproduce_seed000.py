"""Reproduce seed 000 (Saavedra 2024) on the shoulder phantom: the three baselines on every
fold, then the seed's tables with its numbers beside ours.

Runs ``shoulder_unet_vgg19``, ``shoulder_vgg19_refroi`` and ``shoulder_threshold`` with
`bench run`'s runner (finished folds are skipped: the script can be re-run after an
interruption), then prints, in markdown:

- segmentation (the two-step model's U-Net): Dice and pixel accuracy, mean [95 % t-CI over
  the folds], beside the seed's Table 2;
- risky (Goutallier 3–4 vs 0–1): AUROC, accuracy, sensitivity, specificity per model,
  mean [95 % t-CI over folds], beside the seed's Table 3;
- per grade (0–4, grade 2 included): per model the cases and the share called risky;
- the harder cuts (0–1 vs 2–4, 0–1 vs 2) and the grade itself (QWK) for the model that
  grades (the threshold floor);
- costs: wall time of all folds, training images/s, peak memory.

    python benchmarks/reproduce_seed000.py --profile quick --db results/seed000-quick.duckdb
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from mskbench.harness.classification import confusion_table, score_rows, summarize_classification
from mskbench.harness.runner import RunRequest, run
from mskbench.harness.store import Store
from mskbench.harness.summary import select_runs, summarize_task
from mskbench.tasks import get_task

TASK = "shoulder_supraspinatus"
MODELS = ("shoulder_unet_vgg19", "shoulder_vgg19_refroi", "shoulder_threshold")
RISKY_METRICS = ("auroc", "accuracy", "sensitivity", "specificity")
PUBLISHED = "published, other data"


def cell(value: float, low: float, high: float, decimals: int = 3) -> str:
    if pd.isna(value):
        return "–"
    ci = f" [{low:.{decimals}f}, {high:.{decimals}f}]" if not pd.isna(low) else ""
    return f"{value:.{decimals}f}{ci}"


def segmentation_table(store: Store, profile: str) -> pd.DataFrame:
    task = get_task(TASK)
    summary = summarize_task(store, task, profile, metrics=["dice", "pixel_accuracy"])
    rows = summary[summary["stratum"].isna()]
    out = []
    for (source, model), group in rows.groupby(["source", "model"], sort=False):
        by_metric = group.set_index("metric")
        record = {"Model": model, "Source": source}
        for metric in ("dice", "pixel_accuracy"):
            r = by_metric.loc[metric]
            record[metric] = cell(r["mean"], r["ci_low"], r["ci_high"], 4)
        record["n"] = by_metric.loc["dice", "n"]
        out.append(record)
    return pd.DataFrame(out)


def classification_tables(store: Store, profile: str) -> dict[str, pd.DataFrame]:
    task = get_task(TASK)
    runs = select_runs(store.runs(TASK), task, profile).runs
    summary = summarize_classification(store, task, runs)
    tables = {}
    for target in ("risky", "grade_2_4", "grade_2", "goutallier"):
        part = summary[summary["target"] == target]
        if part.empty:
            continue
        out = []
        for (source, model), group in part.groupby(["source", "model"], sort=False):
            by_metric = group.set_index("metric")
            metrics = (
                RISKY_METRICS if target != "goutallier" else ("qwk", "accuracy", "macro_auroc")
            )
            record = {"Model": model, "Source": source}
            for metric in metrics:
                r = by_metric.loc[metric] if metric in by_metric.index else None
                record[metric] = "–" if r is None else cell(r["value"], r["ci_low"], r["ci_high"])
            first = group.iloc[0]
            record["n"] = first["n"]
            out.append(record)
        tables[target] = pd.DataFrame(out)
    rows = score_rows(store, list(runs["run_id"]), "test")
    per_grade = []
    for r in runs.itertuples(index=False):
        counts = confusion_table(task.target("risky"), rows[rows["run_id"] == r.run_id])
        for c in counts.itertuples(index=False):
            share = c.positive / c.n if c.n else float("nan")
            per_grade.append({"Model": r.model, "Goutallier grade": c.reference, "n": c.n,
                              "called risky": f"{share:.2f}"})  # fmt: skip
    if per_grade:
        table = pd.DataFrame(per_grade).pivot(
            index="Goutallier grade", columns="Model", values="called risky"
        )
        n = (
            pd.DataFrame(per_grade)
            .drop_duplicates("Goutallier grade")
            .set_index("Goutallier grade")["n"]
        )
        tables["per grade: share called risky"] = table.assign(n=n).reset_index()
    return tables


def costs(store: Store, profile: str) -> pd.DataFrame:
    return store.query(
        """
        SELECT r.model AS "Model", count(*) AS "Folds",
               round(sum(f.wall_time_s) / 60, 1) AS "Wall time, all folds (min)",
               round(avg(f.train_images_per_s), 1) AS "Train images/s",
               round(max(f.peak_memory_mb)) AS "Peak memory (MB)", any_value(r.device_name) AS "Device"
        FROM runs r JOIN folds f USING (run_id)
        WHERE r.task = ? AND r.profile = ? AND r.kind = 'trained'
        GROUP BY ALL ORDER BY 1
        """,
        [TASK, profile],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--db", type=Path, default=Path("results/seed000-quick.duckdb"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--skip-runs", action="store_true", help="only print the tables")
    args = parser.parse_args()
    if not args.skip_runs:
        for model in args.models.split(","):
            start = time.perf_counter()
            print(f"== {model} ({args.profile})", file=sys.stderr, flush=True)
            outcome = run(RunRequest(task=TASK, model=model, profile=args.profile, db=args.db,
                                     device=args.device))  # fmt: skip
            print(f"   run {outcome.run_id}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    store = Store(args.db)
    print(f"### Segmentation ({args.profile} profile): mean [95 % t-CI over folds]\n")
    print(segmentation_table(store, args.profile).to_markdown(index=False, disable_numparse=True))
    for title, table in classification_tables(store, args.profile).items():
        print(f"\n### {title} ({args.profile} profile)\n")
        print(table.to_markdown(index=False, disable_numparse=True))
    print(f"\n### Costs ({args.profile} profile)\n")
    print(costs(store, args.profile).to_markdown(index=False, disable_numparse=True))


if __name__ == "__main__":
    main()
