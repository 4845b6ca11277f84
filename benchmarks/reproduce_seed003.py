"""Reproduce seed 003 (Hostin 2023) on the NMD phantom: Table 1, Table 2 and costs.

Runs the four networks (unet2d, unet3d, transunet, hrnet) on nmd_thigh and nmd_leg with
`bench run`'s runner (finished folds are skipped, so the script can be re-run after an
interruption), then prints, in markdown:

- Table 1 per task: DSC, ΔFF, ΔMTR, ΔT2, ΔV, absence rate, outlier rate per network, with
  the seed's published numbers beside ours (labelled *published, other data*);
- Table 2: DSC, ΔFF, ΔMTR, ΔT2, ΔV for G20− vs G20+ with the test the seed used
  (Shapiro–Wilk → t-test or Wilcoxon/Mann–Whitney) and its p, for every network, thigh
  and leg pooled as in the seed;
- per network and task: wall time, training images/s, peak memory, device.

    python benchmarks/reproduce_seed003.py --profile quick --db results/seed003-quick.duckdb
    python benchmarks/reproduce_seed003.py --folds 0 ...     # one fold per network (CPU budget)
    python benchmarks/reproduce_seed003.py --skip-runs ...   # tables only
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.harness.aggregation import point_values
from mskbench.harness.report import format_p, metric_header, table1
from mskbench.harness.runner import RunRequest, run
from mskbench.harness.stats import compare_groups
from mskbench.harness.store import Store
from mskbench.harness.summary import select_runs, summarize_task
from mskbench.tasks import get_task

NETWORKS = ("unet2d", "unet3d", "transunet", "hrnet")
TASKS = ("nmd_thigh", "nmd_leg")
G20_METRICS = ["dice", "ff_delta", "mtr_delta", "t2_delta", "volume_delta_cm3"]
TABLE1_METRICS = [*G20_METRICS, "absence_rate", "outlier_rate"]


def markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False)


def run_all(tasks, networks, profile: str, db: Path, device: str, folds: list[int] | None) -> None:
    for task in tasks:
        for network in networks:
            start = time.perf_counter()
            print(f"== {task} / {network} ({profile})", file=sys.stderr, flush=True)
            outcome = run(
                RunRequest(
                    task=task, model=network, profile=profile, db=db, device=device, folds=folds
                )
            )
            print(
                f"   run {outcome.run_id}: folds {outcome.folds_run} run, {outcome.folds_skipped} skipped, "
                f"{time.perf_counter() - start:.0f} s",
                file=sys.stderr,
                flush=True,
            )


def held_out_rows(store: Store, profile: str, metrics: list[str]) -> pd.DataFrame:
    """Test-split values of the runs `select_runs` compares for each task, in long form:
    ``task, model, fold, case_id, structure, metric, value`` and the G20 ``stratum`` label
    (`mskbench.harness.aggregation.point_values`, the engine of `bench results`)."""
    runs = store.runs()
    frames = []
    for task in TASKS:
        spec = get_task(task)
        selected = select_runs(runs[runs["task"] == task], spec, profile).runs
        for chosen in selected.itertuples(index=False):
            wide = point_values(store, spec, chosen.run_id, "test", metrics, spec.strata[0])
            long = wide.melt(
                id_vars=["fold", "case_id", "structure", "stratum"],
                value_vars=metrics,
                var_name="metric",
                value_name="value",
            )
            frames.append(long.assign(task=task, model=chosen.model))
    return pd.concat(frames, ignore_index=True)


def mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std(ddof=1):.3f}"


def pooled_g20(store: Store, profile: str) -> pd.DataFrame:
    """Seed Table 2: muscles of thigh and leg pooled, G20− vs G20+ per network.

    Missing biomarker errors (a muscle the network missed) are left out and counted, as in
    the summaries; the test is `harness.stats.compare_groups` (Shapiro–Wilk on each group →
    Welch t or Mann–Whitney U; the seed names "Student's t-tests or Wilcoxon")."""
    rows = held_out_rows(store, profile, G20_METRICS)
    out = []
    for (model, metric), group in rows.groupby(["model", "metric"], sort=False):
        values = {s: group.loc[group["stratum"] == s, "value"] for s in ("G20-", "G20+")}
        finite = {s: v[np.isfinite(v)] for s, v in values.items()}
        cells = {
            s: f"{mean_sd(v)} (n={v.size})" if v.size > 1 else f"n={v.size}"
            for s, v in finite.items()
        }
        excluded = sum(int((~np.isfinite(v)).sum()) for v in values.values())
        try:
            result = compare_groups(finite["G20-"], finite["G20+"])
            test, p = result.test, format_p(result.p_value)
        except ValueError as exc:  # too few muscles in a stratum (e.g. the smoke profile)
            test, p = f"not tested: {exc}", "–"
        out.append({"Network": model, "Metric": metric_header(metric), **cells, "Test": test,
                    "p": p, "missing (left out)": excluded})  # fmt: skip
    return pd.DataFrame(out)


def same_fold_table(store: Store, profile: str, fold: int) -> pd.DataFrame:
    """Mean ± SD of the Table 1 value metrics on one fold's test scans only, for every
    network that finished it: a comparison on identical cases when networks finished
    different numbers of folds (CPU budget)."""
    rows = held_out_rows(store, profile, G20_METRICS)
    rows = rows[rows["fold"] == fold]
    out = []
    for task in TASKS:
        for model, group in rows[rows["task"] == task].groupby("model"):
            by_metric = group.groupby("metric")["value"]
            cells = {
                metric_header(m): mean_sd(by_metric.get_group(m).dropna()) for m in G20_METRICS
            }
            n = int(by_metric.size()[G20_METRICS[0]])
            out.append({"Task": task, "Network": model, "n": n, **cells})
    return pd.DataFrame(out)


def costs(store: Store, profile: str) -> pd.DataFrame:
    """Per task and network, from the ``folds`` table of the newest finished run: a run
    resumed over several invocations stores only the last invocation's wall time, so the
    fold rows (each fold's own wall time, training images/s and peak memory) are summed."""
    return store.query(
        """
        WITH latest AS (
            SELECT run_id, task, model, device_name FROM runs
            WHERE profile = ? AND status = 'finished' AND kind = 'trained'
            QUALIFY row_number() OVER (PARTITION BY task, model ORDER BY finished_at DESC) = 1
        )
        SELECT l.task AS "Task", l.model AS "Network", count(*) AS "Folds",
               round(sum(f.wall_time_s) / 60, 1) AS "Wall time, all folds (min)",
               round(avg(f.wall_time_s) / 60, 1) AS "per fold (min)",
               round(avg(f.epochs), 1) AS "Epochs per fold",
               round(avg(f.train_images_per_s), 1) AS "Train images/s",
               round(max(f.peak_memory_mb)) AS "Peak memory (MB)",
               l.device_name AS "Device"
        FROM latest l JOIN folds f USING (run_id)
        GROUP BY ALL ORDER BY "Task" DESC, "Network"
        """,
        [profile],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--db", type=Path, default=Path("results/seed003-quick.duckdb"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument(
        "--folds", default=None, help="comma-separated folds (default: the profile's)"
    )
    parser.add_argument("--skip-runs", action="store_true", help="only print the tables")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tasks, networks = args.tasks.split(","), args.networks.split(",")
    if not args.skip_runs:
        folds = [int(f) for f in args.folds.split(",")] if args.folds else None
        run_all(tasks, networks, args.profile, args.db, args.device, folds)
    store = Store(args.db)
    for task in tasks:
        summary = summarize_task(
            store, get_task(task), profile=args.profile, metrics=TABLE1_METRICS
        )
        print(
            f"\n### Table 1 — {task} ({args.profile} profile; published rows: seed 003, other data)\n"
        )
        print(markdown(table1(summary)))
    print(f"\n### Table 2 — G20− vs G20+, thigh and leg muscles pooled ({args.profile} profile)\n")
    print(markdown(pooled_g20(store, args.profile)))
    published = [p for p in get_task(TASKS[0]).published if p.group in ("G20-", "G20+")]
    print(
        "\nSeed 003 Table 2 (HRNet, published, other data): "
        + "; ".join(
            f"{p.metric} {p.group} {p.value} ± {p.sd} (p={p.p_value:.2e})" for p in published
        )
    )
    print(f"\n### Fold 0 only: every network on the same test scans ({args.profile} profile)\n")
    print(markdown(same_fold_table(store, args.profile, fold=0)))
    print(f"\n### Cost per network ({args.profile} profile)\n")
    print(markdown(costs(store, args.profile)))


if __name__ == "__main__":
    main()
