"""Results-store speed: writing one fold and aggregating a large database.

Fills a temporary DuckDB store with ``--runs`` runs of one fold each, ``--rows`` case-metric
rows per fold (default 200 × 5,000 = 1,000,000 rows, through `Store.write_fold`), then
times: one fold write (connect, check, delete stale rows, insert, commit, close), the
per-model aggregation of all rows in DuckDB, one run's rows, the aggregation engine's
statistics, and `summarize_task` over the
latest run of each model. Prints seconds (median and max of ``--repeat`` timings).

    .venv/bin/python benchmarks/store_write.py [--runs 200] [--rows 5000]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from mskbench.harness.aggregation import metric_summary
from mskbench.harness.store import FoldRecord, RunRecord, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import summarize_task
from mskbench.tasks.nmd.spec import NMD_THIGH, THIGH_MUSCLES

MODELS = ("unet2d", "unet3d", "hrnet", "transunet", "m4", "m5", "m6", "m7", "m8", "m9")
PROFILES = ("smoke", "quick", "paper", "smoke")
METRICS = ("dice", "hd95", "ff_delta", "absent", "spurious", "image_diagonal_mm")


def fold_rows(n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``n_rows`` case-metric rows: cases × 10 thigh muscles × 6 metrics."""
    n_cases = max(1, math.ceil(n_rows / (len(THIGH_MUSCLES) * len(METRICS))))
    index = pd.MultiIndex.from_product(
        [[f"c{i:04d}" for i in range(n_cases)], THIGH_MUSCLES, METRICS],
        names=["case_id", "structure", "metric"],
    ).to_frame(index=False)
    values = {
        "dice": rng.beta(20, 2, len(index)),
        "hd95": rng.gamma(2.0, 2.0, len(index)),
        "ff_delta": rng.normal(-0.3, 0.9, len(index)),
        "absent": np.zeros(len(index)),
        "spurious": np.zeros(len(index)),
        "image_diagonal_mm": np.full(len(index), 300.0),
    }
    index["value"] = [values[m][i] for i, m in enumerate(index["metric"])]
    index.insert(1, "split", "test")
    return index


def run_record(i: int) -> RunRecord:
    return synthetic_run_record(
        f"bench-{i}",
        NMD_THIGH,
        model=MODELS[i % len(MODELS)],
        profile=PROFILES[(i // len(MODELS)) % len(PROFILES)],
        seed=i,
        config={"i": i},
        folds_planned=[0],
    )


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rows", type=int, default=5000, help="case-metric rows per fold")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        rows = fold_rows(args.rows, rng)
        now = datetime.now(UTC)
        fold = FoldRecord(0, now, now, 1.0, 10.0, 100.0, 2, 1, 80, 10, 20)
        write_times = []
        t_fill = time.perf_counter()
        for i in range(args.runs):
            run_id, _ = store.begin_run(run_record(i))
            t0 = time.perf_counter()
            store.write_fold(run_id, fold, rows)
            write_times.append(time.perf_counter() - t0)
            store.finish_run(run_id, "finished", wall_time_s=1.0)
        fill = time.perf_counter() - t_fill
        total = int(store.query("SELECT count(*) AS n FROM case_metrics")["n"].iloc[0])
        size_mb = store.path.stat().st_size / 2**20
        print(
            f"store: {args.runs} runs, {total:,} case-metric rows, {size_mb:.1f} MiB; filled in {fill:.1f} s"
        )
        print(
            f"write_fold ({len(rows):,} rows, one transaction): median {statistics.median(write_times):.3f} s, "
            f"max {max(write_times):.3f} s"
        )

        per_model = (
            "SELECT r.model, r.profile, cm.metric, avg(cm.value) AS mean, stddev_samp(cm.value) AS sd, "
            "count(*) AS n FROM case_metrics cm JOIN runs r USING (run_id) "
            "WHERE r.task = ? AND r.status = 'finished' AND cm.split = 'test' AND NOT isnan(cm.value) "
            "GROUP BY ALL ORDER BY ALL"
        )
        med, worst = timed(lambda: store.query(per_model, [NMD_THIGH.name]), args.repeat)
        print(
            f"aggregate all {total:,} rows per model/profile/metric (read-only open + query): median {med:.3f} s, max {worst:.3f} s"
        )
        last = store.runs()["run_id"].iloc[-1]
        one_run = "SELECT * FROM case_metrics WHERE run_id = ? AND metric = 'dice'"
        med, worst = timed(lambda: store.query(one_run, [last]), args.repeat)
        print(f"one run's dice rows: median {med:.3f} s, max {worst:.3f} s")
        med, worst = timed(lambda: store.runs(NMD_THIGH.name), args.repeat)
        print(f"runs table ({args.runs} runs): median {med:.3f} s, max {worst:.3f} s")
        chosen = store.runs(NMD_THIGH.name).query("profile == 'quick'").groupby("model").tail(1)
        groups = dict.fromkeys(chosen["run_id"], "quick")
        med, worst = timed(
            lambda: metric_summary(
                store, NMD_THIGH, groups, "test", ["dice", "hd95", "ff_delta"],
                by="stratum", stratum=NMD_THIGH.strata[0], with_values=True,
            ),
            args.repeat,
        )  # fmt: skip
        print(
            f"engine statistics of {len(chosen)} runs (3 metrics, flags, G20 strata, values for "
            f"the CIs; aggregated in DuckDB): median {med:.3f} s, max {worst:.3f} s"
        )
        t0 = time.perf_counter()
        summary = summarize_task(
            store, NMD_THIGH, profile="quick", metrics=["dice", "hd95", "ff_delta"]
        )
        print(
            f"summarize_task (profile quick, {summary.loc[summary['source'] == 'mskbench', 'model'].nunique()} models, 3 metrics, "
            f"BCa 9999 resamples, published rows): {time.perf_counter() - t0:.2f} s"
        )


if __name__ == "__main__":
    main()
