"""Leaderboard speed on a large results database: every page's queries and its render.

Fills a temporary store (through `Store.write_fold`, as `benchmarks/store_write.py`) with
``--runs`` synthetic nmd_thigh runs of 10 models × 3 profiles (smoke, quick, paper; each
profile on its own data), ``--folds`` folds each, ``--cases`` cases per fold × 10 muscles ×
20 case-metric rows (default 200 runs × 5 × 5 × 10 × 20 = 1,000,000 rows), with realistic
values: a few missed muscles (Dice 0, HD95 and map means NaN) and ~10 % G20+ muscles. Then
prints, per page (and the Per structure page grouped by a case attribute), the seconds
of its queries alone (cold: nothing cached) and of a full `AppTest` render, cold (the
database changed: a new snapshot is copied and every query runs) and warm (served from
the cache); median and max of ``--repeat`` timings.

    .venv/bin/python benchmarks/leaderboard_queries.py [--runs 200] [--cases 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

from mskbench.harness.store import CASE_LEVEL, FoldRecord, RunRecord, Store
from mskbench.harness.store.synthetic import synthetic_run_record
from mskbench.harness.summary import select_runs
from mskbench.leaderboard import queries
from mskbench.leaderboard.taskview import biomarkers, stored_metrics, value_metrics
from mskbench.leaderboard.views.compare import compared
from mskbench.leaderboard.views.papertables import task_tables
from mskbench.tasks.nmd.spec import NMD_THIGH, THIGH_MUSCLES

APP = Path(__file__).resolve().parents[1] / "leaderboard" / "app.py"
MODELS = ("unet2d", "unet3d", "hrnet", "transunet", "m4", "m5", "m6", "m7", "m8", "m9")
PROFILES = ("smoke", "quick", "paper")
DIAGONAL_MM = 300.0
#: The cases.csv ``group`` column (a case attribute the Per structure page groups by).
GROUPS = ("control", "CMT", "DM1")
#: Rows of the timing table that are a page with widgets set: row → (page, session state).
VARIANTS = {"Per structure · by group": ("Per structure", {"structure-by": "group"})}


def fold_rows(fold: int, n_cases: int, quality: float, rng: np.random.Generator):
    """One fold's case-metric rows (20 per case and muscle) and the data's attributes."""
    cases = [f"f{fold}c{i:03d}" for i in range(n_cases)]
    shape = (n_cases, len(THIGH_MUSCLES))
    ff_ref = np.clip(rng.lognormal(2.1, 0.6, shape), 1.5, 70.0)
    absent = rng.random(shape) < 0.01
    dice = np.clip(quality - 0.002 * ff_ref + rng.normal(0, 0.04, shape), 0, 1)
    dice[absent] = 0.0
    values: dict[str, np.ndarray] = {
        "dice": dice,
        "hd95": np.where(absent, np.nan, rng.gamma(2.0, 2.0, shape) + (1 - dice) * 20),
        "assd": np.where(absent, np.nan, rng.gamma(2.0, 0.5, shape)),
        "nsd": np.clip(dice + rng.normal(0, 0.02, shape), 0, 1),
        "absent": absent.astype(float),
        "spurious": np.zeros(shape),
        "image_diagonal_mm": np.full(shape, DIAGONAL_MM),
        "ref_voxels": rng.integers(200, 5000, shape).astype(float),
    }
    for name, centre, spread, slope in (
        ("ff", 0.0, 1.0, -0.04),
        ("mtr", 48.0, 0.8, 0.02),
        ("t2", 50.0, 2.0, -0.05),
    ):
        ref = ff_ref if name == "ff" else rng.normal(centre, 5.0, shape)
        delta = np.where(absent, np.nan, rng.normal(slope * ff_ref, spread, shape))
        values |= {f"{name}_ref": ref, f"{name}_pred": ref + delta, f"{name}_delta": delta}
    ref_volume = rng.uniform(20, 400, shape)
    volume_delta = np.where(absent, -ref_volume, rng.normal(-0.3, 3.0, shape))
    values |= {
        "ref_volume_cm3": ref_volume,
        "pred_volume_cm3": ref_volume + volume_delta,
        "volume_delta_cm3": volume_delta,
    }
    index = pd.MultiIndex.from_product([cases, THIGH_MUSCLES], names=["case_id", "structure"])
    metrics = pd.concat(
        [
            pd.DataFrame({"metric": name, "value": array.ravel()}, index=index)
            for name, array in values.items()
        ]
    ).reset_index()
    metrics.insert(1, "split", "test")
    attributes = pd.DataFrame(
        {
            "case_id": index.get_level_values(0),
            "structure": index.get_level_values(1),
            "attribute": "ff_ref",
            "value_num": ff_ref.ravel(),
            "value_text": None,
        }
    )
    case_columns = pd.DataFrame(
        {
            "case_id": cases * 2,
            "structure": CASE_LEVEL,
            "attribute": ["site"] * n_cases + ["group"] * n_cases,
            "value_num": np.nan,
            "value_text": ["A"] * n_cases + [GROUPS[i % len(GROUPS)] for i in range(n_cases)],
        }
    )
    return metrics, pd.concat([attributes, case_columns], ignore_index=True)


def run_record(i: int) -> RunRecord:
    profile = PROFILES[(i // len(MODELS)) % len(PROFILES)]
    return synthetic_run_record(
        f"bench-{i}",
        NMD_THIGH,
        model=MODELS[i % len(MODELS)],
        profile=profile,
        seed=i // (len(MODELS) * len(PROFILES)),
        config={"i": i},
        data_fingerprint=f"data-{profile}",
        split_fingerprint=f"split-{profile}",
    )


def fill(store: Store, n_runs: int, n_folds: int, n_cases: int) -> None:
    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    for i in range(n_runs):
        run_id, _ = store.begin_run(run_record(i))
        quality = 0.80 + 0.015 * (i % len(MODELS))
        for fold in range(n_folds):
            metrics, attributes = fold_rows(fold, n_cases, quality, rng)
            record = FoldRecord(fold, now, now, 1.0, 10.0, 100.0, 2, 1, 80, 10, n_cases)
            store.write_fold(run_id, record, metrics, attributes=attributes)
        store.finish_run(run_id, "finished", wall_time_s=1.0)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def page_queries(store: Store) -> dict[str, Callable[[], object]]:
    """The queries (and paired tests) each page runs, uncached."""
    task = NMD_THIGH
    runs = store.runs(task.name)
    chosen = select_runs(runs, task).runs
    groups = tuple(zip(chosen["run_id"], chosen["profile"], strict=True))
    paper = chosen[chosen["profile"] == "paper"].sort_values("model")
    paper_groups = tuple(zip(paper["run_id"], paper["profile"], strict=True))
    a, b = paper["run_id"].iloc[0], paper["run_id"].iloc[1]
    metrics, values = tuple(stored_metrics(task)), tuple(value_metrics(task))
    markers = tuple(c for m in biomarkers(task) for c in (m.reference, m.predicted))
    stratum = task.strata[0]
    deltas = ("dice", "ff_delta", "mtr_delta", "t2_delta", "volume_delta_cm3")
    return {
        "Overview": lambda: (
            store.runs(task.name),
            queries.metric_summary(store, groups, "test", metrics),
        ),
        "Compare two models": lambda: (
            compared(store, a, b, "test", values, ("a", "b"), False),
            compared(store, a, b, "test", ("dice",), ("a", "b"), True),
        ),
        "Fat infiltration strata": lambda: (
            queries.metric_summary(
                store, paper_groups, "test", values, by="stratum", stratum=stratum, with_values=True
            ),
            queries.point_values(store, a, "test", ("dice",), stratum),
        ),
        "Bland–Altman": lambda: queries.point_values(store, a, "test", markers, stratum),
        "Per structure": lambda: (
            queries.case_attributes(store, ("data-paper",)),
            queries.metric_summary(store, paper_groups, "test", deltas, by="structure"),
        ),
        "Per structure · by group": lambda: queries.metric_summary(
            store, paper_groups, "test", deltas, by="case_group", case_attribute="group"
        ),
        "Paper tables": lambda: task_tables(store, task.name, "paper", "test"),
        "Case viewer": lambda: (
            queries.predicted_cases(store, a),
            queries.case_table(store, a, 0, "f0c000", "test", (*values, "absent")),
        ),
        "Runs": lambda: (store.runs(task.name), queries.folds_of_run(store, a)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cases", type=int, default=5, help="cases per fold")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "leaderboard.duckdb"
        store = Store(db)
        t0 = time.perf_counter()
        fill(store, args.runs, args.folds, args.cases)
        total = int(store.query("SELECT count(*) AS n FROM case_metrics")["n"].iloc[0])
        print(
            f"store: {args.runs} runs, {total:,} case-metric rows, "
            f"{db.stat().st_size / 2**20:.1f} MiB; filled in {time.perf_counter() - t0:.1f} s"
        )
        print(
            f"{'page':<26}{'queries cold':>16}{'render cold':>16}{'render warm':>16}   (s, median / max)"
        )
        sys.argv = ["app.py", "--db", str(db)]
        at = AppTest.from_file(str(APP), default_timeout=120).run()  # imports, first render
        for row, run_queries in page_queries(store).items():
            q = timed(run_queries, args.repeat)
            page, state = VARIANTS.get(row, (row, {}))
            for key, value in state.items():
                at.session_state[key] = value
            at.sidebar.radio(key="page").set_value(page).run()

            def cold() -> None:
                os.utime(db)  # a new stamp: every cached query runs again
                at.run()

            c = timed(cold, args.repeat)
            w = timed(at.run, args.repeat)
            if at.exception:
                raise RuntimeError(f"{row}: {at.exception}")
            print(
                f"{row:<26}{q[0]:>9.3f} / {q[1]:.3f}{c[0]:>9.3f} / {c[1]:.3f}"
                f"{w[0]:>9.3f} / {w[1]:.3f}"
            )


if __name__ == "__main__":
    main()
