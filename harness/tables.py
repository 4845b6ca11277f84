"""A task's own tables in its paper's shapes (``TaskSpec.tables``; ``bench results
--tables``, the leaderboard's Paper tables page).

The harness selects the runs (`mskbench.harness.summary.select_runs`, as `bench results`)
and reads their rows of one profile and split into a `mskbench.tasks.results.StoredResults`;
the task's hook only arranges them. Task code never touches the store.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mskbench.harness.classification import score_rows
from mskbench.harness.registry import load_reference
from mskbench.harness.store import CASE_LEVEL, Store
from mskbench.harness.store.sql import in_list
from mskbench.harness.summary import select_runs
from mskbench.tasks.results import StoredResults
from mskbench.tasks.spec import TaskSpec


def case_rows(store: Store, data_fingerprints: list[str]) -> pd.DataFrame:
    """One row per case of the data: ``case_id`` and each case-level attribute as text."""
    params: dict[str, Any] = {"case_level": CASE_LEVEL}
    data = in_list("data", data_fingerprints, params)
    long = store.query(
        "SELECT DISTINCT case_id, attribute, "
        "coalesce(value_text, CAST(value_num AS VARCHAR)) AS value FROM attributes "
        f"WHERE data_fingerprint IN ({data}) AND structure = $case_level",
        params,
    )
    if long.empty:
        return pd.DataFrame(columns=["case_id"])
    wide = long.pivot_table(index="case_id", columns="attribute", values="value", aggfunc="first")
    return wide.reset_index().rename_axis(columns=None)


def stored_results(store: Store, runs: pd.DataFrame, profile: str, split: str) -> StoredResults:
    """The rows of the compared ``runs`` (one per model, one profile) on ``split``."""
    params: dict[str, Any] = {"split": split}
    ids = in_list("run", list(runs["run_id"]), params)
    metrics = store.query(
        "SELECT run_id, fold, case_id, structure, metric, value FROM case_metrics "
        f"WHERE run_id IN ({ids}) AND split = $split ORDER BY run_id, fold, case_id, structure, metric",
        params,
    )
    model = runs.set_index("run_id")["model"]
    return StoredResults(
        profile=profile,
        split=split,
        runs=runs[["run_id", "model", "profile"]].reset_index(drop=True),
        metrics=metrics.assign(model=metrics["run_id"].map(model)),
        cases=case_rows(store, sorted(set(runs["data_fingerprint"]))),
        scores=(scores := score_rows(store, list(runs["run_id"]), split)).assign(
            model=scores["run_id"].map(model)
        ),
    )


def paper_tables(
    store: Store, task: TaskSpec, profile: str | None = None, split: str = "test"
) -> dict[str, pd.DataFrame]:
    """The task's tables (``TaskSpec.tables`` called as ``tables(task, results)`` once per
    profile with compared runs), keyed by title. ``ValueError`` for a task without."""
    if task.tables is None:
        raise ValueError(f"task {task.name} has no paper tables (TaskSpec.tables is not set)")
    hook = load_reference(task.tables)
    selected = select_runs(store.runs(task.name), task, profile).runs
    out: dict[str, pd.DataFrame] = {}
    for name, runs in selected.groupby("profile", sort=True):
        out |= hook(task, stored_results(store, runs, str(name), split))
    return out
